import Data
import Engine
import Foundation

/// What a training run reports as it goes; the caller prints, logs or records it.
public enum TrainingEvent: Sendable {
    case started(TrainingStart)
    case step(StepRecord)
    case epoch(EpochRecord)
    case checkpoint(path: String, label: String)
    /// Videos of a batch that could not be read (they are left out; training goes on).
    case dataFailures(epoch: Int, batch: Int, failures: [String])
}

public struct TrainingStart: Codable, Sendable {
    public var configurationHash: String
    public var epochs: Int
    public var stepsPerEpoch: Int
    public var trainingVideos: Int
    public var validationVideos: Int
    /// Where a resumed run goes on from (epoch, batch, step), nil for a fresh start.
    public var resumedFrom: [Int]?
    public var parameters: Int
}

public struct StepRecord: Codable, Sendable, Equatable {
    public var epoch: Int
    public var batch: Int
    public var batches: Int
    public var step: Int
    public var loss: Double
    public var lr: Double
    public var clips: Int
    public var seconds: Double
    public var clipsPerSecond: Double { seconds > 0 ? Double(clips) / seconds : 0 }
}

public struct ValidationResult: Codable, Sendable, Equatable {
    public var top1: Double
    public var top5: Double
    public var loss: Double
    public var videos: Int
}

public struct EpochRecord: Codable, Sendable, Equatable {
    public var epoch: Int
    public var step: Int
    public var meanLoss: Double
    public var lr: Double
    public var clipsPerSecond: Double
    public var seconds: Double
    public var validation: ValidationResult?
    public var isBest: Bool
}

public struct TrainingSummary: Codable, Sendable, Equatable {
    public var configurationHash: String
    public var epochs: Int
    public var steps: Int
    public var lastLoss: Double?
    public var bestTop1: Double?
    public var bestEpoch: Int?
    public var lastTop1: Double?
    public var latestCheckpoint: String
    public var bestCheckpoint: String?
    public var stoppedEarly: Bool
    /// Every epoch's record, including those of the runs this one resumed.
    public var history: [EpochRecord] = []
}

/// A network and how a batch becomes its loss.
public enum TrainableNetwork {
    /// A classifier: logits from clips.
    case classifier(Module & Layer)
    /// TCLR's backbone with its projection head.
    case tclr(TCLRNetwork)

    public var module: Module {
        switch self {
        case .classifier(let m): return m
        case .tclr(let m): return m
        }
    }
}

/// The files of a run directory.
public struct RunDirectory: Sendable {
    public var path: String
    public init(_ path: String) { self.path = path }
    public var latest: String { path + "/latest.safetensors" }
    public var best: String { path + "/best.safetensors" }
    public var configuration: String { path + "/configuration.json" }
    public var log: String { path + "/log.jsonl" }
}

/// Trains `network` on `train`, validating on `validation` (1 view per video), writing `latest`
/// (and `best` when validation improves) into `directory`. With `resume`, goes on from `latest`
/// exactly where it stopped: every random draw comes from (seed, epoch, batch), so the weights at
/// the end are bit-identical to those of an uninterrupted run. An unfinished run resumes only with
/// the number of processes that wrote it; a finished one is returned whatever the number.
///
/// Data-parallel (`world` of several processes, each with loaders sharded to its part of every
/// batch): gradients are summed over the processes after each backward pass, every process takes
/// the same optimiser step, and the first process alone writes checkpoints and reports events.
/// The loss of a batch is the mean over the whole batch of every process, so N processes train as
/// one with the whole batch would, up to the order of float sums, and exactly so for the batch-norm
/// statistics with `syncBatchNorm`.
public func train(_ config: TrainingConfiguration, network: TrainableNetwork, train: ClipLoader, validation: ClipLoader?,
                  directory: RunDirectory, resume: Bool, commit: String, world: Collective = SingleProcess(),
                  threads: Int? = nil, events: (TrainingEvent) throws -> Void) throws -> TrainingSummary {
    try config.validate()
    guard config.batch >= world.size else {
        throw TrainingError.configuration("batch \(config.batch) is smaller than the \(world.size) processes: each needs a part of every batch")
    }
    let model = network.module
    let fm = FileManager.default
    let isRoot = world.rank == 0
    func emit(_ event: TrainingEvent) throws { if isRoot { try events(event) } }
    try fm.createDirectory(atPath: directory.path, withIntermediateDirectories: true)
    let parallel = world.size > 1
    if parallel && config.syncBatchNorm == true { model.synchronizeBatchNorm(world) }
    defer { if parallel { model.synchronizeBatchNorm(nil) } }
    // `threads` (the cores a process of a data-parallel job has) overrides the configuration's
    // count without changing its hash: the engine's results do not depend on its thread count.
    return try ConvolutionBackend.with(config.convolutionBackend) { try Parallel.withThreads(threads ?? config.threads) {
        var optimizer = Optimizer(rule: config.optimizer, groups: config.parameterGroups)
        var epoch = 0, nextBatch = 0, step = 0
        var lossSum = 0.0, lossCount = 0
        var plateau = PlateauState()
        var bestTop1: Double?, bestEpoch: Int?, lastTop1: Double?
        var history: [EpochRecord] = []
        var resumedFrom: [Int]?
        var wroteCheckpoint = false
        if world.firstDecides(resume && fm.fileExists(atPath: directory.latest)) {
            let c = try TrainingCheckpoint(contentsOf: directory.latest)
            if c.worldSize != world.size && c.epoch < config.epochs {
                throw TrainingError.checkpoint(path: directory.latest, message: "was written by a job of \(c.worldSize) process(es) and this one has "
                    + "\(world.size): resume with the same number (`mpirun -np \(c.worldSize)`\(c.worldSize == 1 ? " or no mpirun" : "")), since each "
                    + "process's part of a batch, its batch-norm statistics and the order of the gradient sums depend on it")
            }
            if c.configuration.hash != config.hash {
                let diff = config.differences(from: c.configuration)
                throw TrainingError.checkpoint(path: directory.latest, message: "was written by a different configuration; "
                    + (diff.isEmpty ? "hash \(c.configuration.hash) against \(config.hash)" : diff.joined(separator: "; ")))
            }
            try c.restore(into: model, path: directory.latest)
            optimizer.state = c.optimizer
            epoch = c.epoch; nextBatch = c.nextBatch; step = c.step
            lossSum = c.epochLossSum; lossCount = c.epochLossCount; plateau = c.plateau
            bestTop1 = c.bestTop1; bestEpoch = c.bestEpoch; lastTop1 = c.lastTop1; history = c.history
            resumedFrom = [epoch, nextBatch, step]
            wroteCheckpoint = true
        }
        if isRoot { try Data(config.json.utf8).write(to: URL(fileURLWithPath: directory.configuration)) }
        let batches = train.batchCount
        // Every process starts from the first one's weights and buffers (the same seed gives the
        // same ones; this makes it so whatever happened before).
        DataParallel.broadcast(model.stateDict().map(\.1), over: world)
        try emit(.started(TrainingStart(configurationHash: config.hash, epochs: config.epochs, stepsPerEpoch: batches,
                                      trainingVideos: train.dataset.count, validationVideos: validation?.dataset.count ?? 0,
                                      resumedFrom: resumedFrom, parameters: model.parameterCount)))

        func checkpoint(_ path: String, label: String) throws {
            guard isRoot else { return }
            try TrainingCheckpoint(configuration: config, epoch: epoch, nextBatch: nextBatch, step: step, epochLossSum: lossSum,
                                   epochLossCount: lossCount, plateau: plateau, bestTop1: bestTop1, bestEpoch: bestEpoch,
                                   lastTop1: lastTop1, history: history, commit: commit, model: model, optimizer: optimizer.state,
                                   worldSize: world.size).write(to: path)
            wroteCheckpoint = true
            try emit(.checkpoint(path: path, label: label))
        }
        func rate(at e: Double) -> Double { config.schedule.rate(epoch: e, plateauDivisions: plateau.divisions) }
        var stoppedEarly = false
        var lastLoss: Double?
        let root = SeededGenerator(seed: config.seed)
        // Found once: walking the module tree by reflection every step is work on the hot path.
        let named = model.namedParameters()
        let parameters = named.map(\.1)
        let stochastic = model.stochasticModules()
        // Per-process batch norm: the processes' running statistics drift apart; the first
        // process's go to the others before each step and each validation (DDP's buffer broadcast).
        let runningStatistics = parallel && config.syncBatchNorm != true ? model.namedBuffers().map(\.1) : []
        model.train()

        while epoch < config.epochs {
            if case .plateau(let rule) = config.schedule.shape, let floor = rule.stopBelow, rate(at: Double(epoch)) < floor {
                stoppedEarly = true
                break
            }
            let epochStart = Date()
            var epochClips = 0
            for batch in train.batches(epoch: epoch, from: nextBatch) {
                let stepStart = Date()
                let position = nextBatch
                let lr = rate(at: Double(epoch) + Double(position) / Double(max(batches, 1)))
                let videos = batch.indices.count
                // The whole batch's videos, how many processes have none of them, and the videos
                // that could not be read.
                let local = [videos, videos == 0 ? 1 : 0, batch.failures.count]
                let counts = parallel ? world.allSum(local) : local
                var failures = batch.failures.map { "\($0.id): \($0.reason)" }
                if parallel && counts[2] > 0 {
                    // Every process's, reported once by the first.
                    failures = world.allGather(text: failures.joined(separator: "\n")).flatMap { $0.split(separator: "\n").map(String.init) }
                }
                if !failures.isEmpty { try emit(.dataFailures(epoch: epoch, batch: position, failures: failures)) }
                guard counts[0] > 0 else { nextBatch += 1; continue }
                // A process without clips cannot take part in synchronised batch norm or in the
                // contrastive gather: the step is skipped everywhere (a last batch smaller than the
                // number of processes, or unreadable videos).
                if counts[1] > 0, config.syncBatchNorm == true || config.objective == .tclr {
                    nextBatch += 1; continue
                }
                DataParallel.broadcast(runningStatistics, over: world)
                var g = root.derived("train/\(epoch)/\(position)")
                var modules = g.derived("modules")
                if parallel { modules = modules.derived("rank/\(world.rank)") }   // each process's clips their own masks
                for (name, m) in stochastic { m.reseed(modules.derived("module/" + name)) }
                for p in parameters { p.zeroGrad() }
                // Synchronised batch norm calls its collectives once per micro-batch: every
                // process splits its part into the same number (at most its fewest clips).
                var microBatchCount: Int?
                if parallel && config.syncBatchNorm == true && config.accumulate > 1 {
                    let fewest = world.allGather([Float(videos * batch.shape[1])]).map { Int($0) }.min() ?? 1
                    microBatchCount = min(config.accumulate, fewest)
                }
                var loss = videos > 0 ? try stepLoss(config, network: network, batch: batch, wholeBatchVideos: counts[0],
                                                     microBatches: microBatchCount, world: world, generator: &g) : 0
                if parallel {
                    DataParallel.sumGradients(parameters, over: world)
                    // A classifier's loss is each process's share of the batch mean; TCLR's is the
                    // whole batch's on every process already.
                    if config.objective != .tclr { var l = [loss]; world.allSum(&l); loss = l[0] }
                }
                guard loss.isFinite else {
                    throw TrainingError.nonFinite(epoch: epoch, step: step, loss: Float(loss),
                                                  checkpoint: wroteCheckpoint ? directory.latest : nil)
                }
                if let maxNorm = config.gradientClipNorm { clipGradientNorm(parameters, maxNorm: maxNorm) }
                optimizer.step(named, lr: lr)
                step += 1; nextBatch += 1
                lossSum += loss; lossCount += 1; lastLoss = loss
                let clips = counts[0] * batch.shape[1]
                epochClips += clips
                try emit(.step(StepRecord(epoch: epoch, batch: position, batches: batches, step: step, loss: loss, lr: lr,
                                        clips: clips, seconds: Date().timeIntervalSince(stepStart))))
                if config.checkpointEverySteps > 0 && step % config.checkpointEverySteps == 0 {
                    try checkpoint(directory.latest, label: "latest")
                }
            }
            let meanLoss = lossCount > 0 ? lossSum / Double(lossCount) : .nan
            let seconds = Date().timeIntervalSince(epochStart)
            if case .plateau(let rule) = config.schedule.shape { plateau.observe(epochLoss: meanLoss, rule: rule) }
            var result: ValidationResult?
            var isBest = false
            let last = epoch == config.epochs - 1
            if let validation, config.validateEvery > 0, (epoch + 1) % config.validateEvery == 0 || last,
               case .classifier(let classifier) = network {
                DataParallel.broadcast(runningStatistics, over: world)
                let v = try validate(classifier, loader: validation, world: world)
                result = v
                lastTop1 = v.top1
                if bestTop1 == nil || v.top1 > bestTop1! { bestTop1 = v.top1; bestEpoch = epoch; isBest = true }
            }
            let record = EpochRecord(epoch: epoch, step: step, meanLoss: meanLoss, lr: rate(at: Double(epoch + 1)),
                                     clipsPerSecond: seconds > 0 ? Double(epochClips) / seconds : 0, seconds: seconds,
                                     validation: result, isBest: isBest)
            history.append(record)
            epoch += 1; nextBatch = 0; lossSum = 0; lossCount = 0
            if isBest { try checkpoint(directory.best, label: "best") }
            try checkpoint(directory.latest, label: "latest")
            try emit(.epoch(record))
        }
        // The first process's last checkpoint is on disk before any process goes on to read it.
        world.barrier()
        return TrainingSummary(configurationHash: config.hash, epochs: epoch, steps: step, lastLoss: lastLoss,
                               bestTop1: bestTop1, bestEpoch: bestEpoch, lastTop1: lastTop1, latestCheckpoint: directory.latest,
                               bestCheckpoint: fm.fileExists(atPath: directory.best) ? directory.best : nil,
                               stoppedEarly: stoppedEarly, history: history)
    } }
}

/// Forward and backward of one batch, split into `accumulate` micro-batches whose gradients add
/// up to the whole batch's (each micro-batch's mean loss weighted by its share of the clips).
/// Returns the batch's loss.
///
/// `wholeBatchVideos` is the batch's size over every process (this one's part is `batch`): a
/// classifier's loss is this process's share of the whole batch's mean; TCLR's compares every
/// process's videos (their embeddings are gathered) and is the whole batch's loss.
public func stepLoss(_ config: TrainingConfiguration, network: TrainableNetwork, batch: ClipBatch, wholeBatchVideos: Int? = nil,
                     microBatches count: Int? = nil, world: Collective = SingleProcess(),
                     generator g: inout SeededGenerator) throws -> Double {
    let videos = batch.indices.count
    let views = batch.shape[1]
    let viewShape = Array(batch.shape[2...])
    let perView = viewShape.reduce(1, *)
    var data = batch.data
    switch network {
    case .classifier(let model):
        // Repeated augmentation: each copy is a clip of its own, with the video's label.
        var labels: [Int] = []
        for l in batch.labels {
            guard let l else { throw TrainingError.data("a training video has no label") }
            guard (0..<config.classes).contains(l) else { throw TrainingError.data("label \(l) is outside the model's \(config.classes) classes") }
            labels += Array(repeating: l, count: views)
        }
        let clips = videos * views
        var targets: [Float]
        if let mix = config.mix {
            var mg = g.derived("mix")
            targets = Mixing.apply(mix, batch: &data, shape: [clips] + viewShape, labels: labels, classes: config.classes,
                                   generator: &mg).targets
        } else {
            targets = Mixing.smoothedOneHot(labels, classes: config.classes, smoothing: config.labelSmoothing)
        }
        let parts = microBatches(clips, count ?? config.accumulate)
        let wholeClips = (wholeBatchVideos ?? videos) * views
        var total = 0.0
        for r in parts {
            let x = Tensor(shape: [r.count] + viewShape, data: Array(data[(r.lowerBound * perView)..<(r.upperBound * perView)]))
            let t = Tensor(shape: [r.count, config.classes],
                           data: Array(targets[(r.lowerBound * config.classes)..<(r.upperBound * config.classes)]))
            let loss = model(x).crossEntropy(softTargets: t) * (Float(r.count) / Float(wholeClips))
            total += Double(loss.scalar)
            loss.backward()
            loss.releaseGraph()
        }
        return total
    case .tclr(let net):
        // The contrastive terms compare videos within the batch: it is one forward pass.
        let x = Tensor(shape: [videos, views] + viewShape, data: data)
        let loss = net.loss(x, temperature: Float(config.tclrTemperature), world: world)
        let value = Double(loss.scalar)
        loss.backward()
        loss.releaseGraph()
        return value
    }
}

func microBatches(_ n: Int, _ parts: Int) -> [Range<Int>] {
    let k = max(1, min(parts, n))
    return (0..<k).map { i in (i * n / k)..<((i + 1) * n / k) }
}

/// Video top-1 and top-5 (mean of softmax over the views) and mean cross-entropy, in evaluation
/// mode; training mode is restored after.
/// The 0-based rank of class `label` among `scores`, best first, ties going to the lower class index:
/// the rule of Evaluation's `Aggregation.topK`, so the loop's validation top-1 and the scored
/// top-1 of the same predictions agree (a tie counted for the label made early, untrained models
/// with constant outputs look right on every video).
public func classRank(of label: Int, in scores: [Double]) -> Int {
    var rank = 0
    for (c, s) in scores.enumerated() where s > scores[label] || (s == scores[label] && c < label) { rank += 1 }
    return rank
}

/// With several processes, each validates its shard of the videos (`loader`'s) and the counts are
/// summed: the same figures as one process validating them all.
public func validate(_ model: Module & Layer, loader: ClipLoader, world: Collective = SingleProcess()) throws -> ValidationResult {
    model.eval()
    defer { model.train() }
    var correct1 = 0, correct5 = 0, n = 0
    var lossSum = 0.0
    try Autograd.withoutGradients {
        for batch in loader.batches(epoch: 0) {
            let (b, views) = (batch.indices.count, batch.shape[1])
            guard b > 0 else { continue }
            let x = Tensor(shape: [b * views] + Array(batch.shape[2...]), data: batch.data)
            let probs = model(x).softmax()
            let k = probs.shape[1]
            for i in 0..<b {
                guard let label = batch.labels[i] else { continue }
                guard label < k else { throw TrainingError.data("validation label \(label) is outside the model's \(k) classes") }
                var p = [Double](repeating: 0, count: k)
                for v in 0..<views { for c in 0..<k { p[c] += Double(probs.data[(i * views + v) * k + c]) / Double(views) } }
                let rank = classRank(of: label, in: p)
                if rank == 0 { correct1 += 1 }
                if rank < 5 { correct5 += 1 }
                lossSum -= Foundation.log(max(p[label], 1e-12))
                n += 1
            }
        }
    }
    if world.size > 1 {
        var sums = [Double(correct1), Double(correct5), lossSum, Double(n)]
        world.allSum(&sums)
        (correct1, correct5, lossSum, n) = (Int(sums[0]), Int(sums[1]), sums[2], Int(sums[3]))
    }
    guard n > 0 else { throw TrainingError.data("the validation set has no labelled video that could be read") }
    return ValidationResult(top1: Double(correct1) / Double(n), top5: Double(correct5) / Double(n),
                            loss: lossSum / Double(n), videos: n)
}
