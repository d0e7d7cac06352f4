import ArgumentParser
import Data
import Engine
import Foundation
import Harness
import Models
import Store
import Training

extension TrainingConfiguration.InputModality: ExpressibleByArgument {}
extension TrainingConfiguration.CropKind: ExpressibleByArgument {}
extension TrainingConfiguration.InputNormalisation: ExpressibleByArgument {}

enum OptimizerChoice: String, CaseIterable, ExpressibleByArgument { case sgd, adam, adamw }
enum ScheduleChoice: String, CaseIterable, ExpressibleByArgument { case constant, cosine, multistep, plateau }

/// The options `train` and `pretrain tclr` share.
struct TrainingOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The dataset in the challenge's layout (annotations/clsIdx.csv, split CSVs, train|val|test/<id>.mp4).", valueName: "dir"))
    var data: String
    @Option(help: ArgumentHelp("The run directory: latest.safetensors, best.safetensors, configuration.json, log.jsonl.", valueName: "dir"))
    var out: String
    @Option(help: "rgb (decoded frames) or flow (TV-L1 flow from --flow).") var modality: TrainingConfiguration.InputModality = .rgb
    @Option(help: ArgumentHelp("Extracted flow (`vipbench flow extract --out`), for --modality flow.", valueName: "dir")) var flow: String?
    @Option(help: "Channel-width multiplier of the network (1 = the paper's).") var width: Double = 1
    @Option(name: .customLong("layer-scale"), help: ArgumentHelp("mvit-b only: CaiT's LayerScale, every block's attention and MLP output scaled per channel by a learnt factor starting at this value (1e-4 in CaiT), so that the blocks start close to identities. Not MViT-B's; at the scaled profiles' sizes its loss falls with it and not without.", valueName: "value"))
    var layerScale: Float?
    @Option(help: ArgumentHelp("Training clip as FRAMESxSKIP.", valueName: "FxS")) var clip: String = "16x2"
    @Option(name: .customLong("short-side"), help: "Frames are decoded with their short side at this size.") var shortSide: Int = 128
    @Option(help: "Training crop size (square).") var crop: Int = 112
    @Option(name: .customLong("crop-kind"), help: "random (a crop x crop window), random-resized (torchvision's), tclr (U(0.6,1) x short side, then resized).")
    var cropKind: TrainingConfiguration.CropKind = .random
    @Option(help: "Probability of a horizontal flip (0 for data whose classes are not flip-invariant, as the embedded motion set's).")
    var flip: Double?
    @Option(help: "Input normalisation: unit ([0,1]; flow as stored), slowfast (0.45/0.225), kinetics.") var normalise: TrainingConfiguration.InputNormalisation = .unit
    @Option(help: "Epochs.") var epochs: Int = 10
    @Option(help: "Clips per optimiser step.") var batch: Int = 8
    @Option(help: "Split each batch into this many micro-batches (gradient accumulation).") var accumulate: Int = 1
    @Option(help: "sgd, adam or adamw.") var optimizer: OptimizerChoice = .sgd
    @Option(help: "Base learning rate.") var lr: Double = 0.05
    @Option(help: "SGD momentum.") var momentum: Double = 0.9
    @Flag(inversion: .prefixedNo, help: "Nesterov momentum (SGD).") var nesterov = true
    @Option(name: .customLong("weight-decay"), help: "Weight decay (coupled for sgd and adam, decoupled for adamw).") var weightDecay: Double = 5e-4
    @Flag(name: .customLong("no-decay-1d"), help: "No weight decay on biases and other 1-D parameters (the MViT recipe).") var noDecay1D = false
    @Option(help: "constant, cosine (to --lr-end), multistep (--milestones, x0.1), plateau (TCLR's: /10 after --patience epochs without a new best training loss).")
    var schedule: ScheduleChoice = .cosine
    @Option(name: .customLong("lr-end"), help: "The cosine's final rate.") var lrEnd: Double = 0
    @Option(parsing: .upToNextOption, help: "Epochs at which multistep multiplies the rate by 0.1.") var milestones: [Int] = []
    @Option(help: "Plateau patience in epochs.") var patience: Int = 3
    @Option(help: "Linear warm-up epochs (fractions allowed).") var warmup: Double = 0
    @Option(name: .customLong("warmup-start"), help: "The rate at the start of the warm-up.") var warmupStart: Double = 0
    @Option(name: .customLong("clip-grad"), help: "Clip gradients to this global L2 norm.") var clipGrad: Double?
    @Option(name: .customLong("label-smoothing"), help: "Label smoothing of the cross-entropy.") var labelSmoothing: Double = 0
    @Flag(help: "Mixup (alpha 0.8) / CutMix (alpha 1.0), switch probability 0.5, on every batch (the MViT recipe).") var mix = false
    @Flag(name: .customLong("rand-augment"), help: "RandAugment m7 n4 mstd0.5 (the MViT recipe), one draw per clip.") var randAugment = false
    @Option(help: "Random erasing probability (one zero-valued box per clip).") var erasing: Double?
    @Option(help: "Augmented copies of each decoded clip (repeated augmentation).") var copies: Int = 1
    @Option(help: "Seed of every random draw (initialisation, order, augmentation, dropout).") var seed: UInt64 = 0
    @Option(help: "Threads of the engine and of BLAS (default 2; under mpirun, the host's cores shared by its ranks).") var threads: Int?
    @Option(help: "Loader threads decoding and augmenting clips (default 2; under mpirun, the host's cores shared by its ranks).") var workers: Int?
    @Flag(name: .customLong("sync-batch-norm"), help: "Under mpirun: batch-norm statistics over the whole batch of every rank (default: each rank's own part, as PyTorch's DDP).")
    var syncBatchNorm = false
    @OptionGroup var convolution: ConvolutionOptions

    var engineThreads: Int { threads ?? Cluster.defaultThreads }
    var loaderWorkers: Int { workers ?? Cluster.defaultThreads }

    @Option(name: .customLong("cache-mb"), help: "Decoded-frame cache in MB (0: decode every time).") var cacheMB: Int = 512
    @Option(name: .customLong("validate-every"), help: "Validate every N epochs (and after the last); 0 never.") var validateEvery: Int = 1
    @Option(name: .customLong("checkpoint-every"), help: "Also write latest every N steps (besides every epoch's end); 0 only at epoch ends.") var checkpointEvery: Int = 0
    @Option(help: ArgumentHelp("Fine-tune: start from this checkpoint, loading every tensor whose name and shape match.", valueName: "file")) var initFrom: String?
    @Flag(help: "Go on from the run directory's latest checkpoint (refused when the configuration differs).") var resume = false
    @Flag(name: .customLong("print-config"), help: "Print the resolved configuration and exit.") var printConfig = false
    @Flag(help: "Print a JSON summary line at the end (and JSON events on stdout).") var json = false
    @Flag(help: "Record the run in the results store: best and last validation top-1/top-5, training clips/s, the configuration and checkpoints.")
    var record = false
    @OptionGroup var store: StoreOptions
    @Option(name: .customLong("limit-videos"), help: "Use only the first N videos of each split (quick checks).") var limitVideos: Int?

    func optimizerRule() -> OptimizerRule {
        switch optimizer {
        case .sgd: return .sgd(momentum: momentum, nesterov: nesterov)
        case .adam: return .adamDefault
        case .adamw: return .adamwDefault
        }
    }

    func scheduleValue() -> LearningRateSchedule {
        let shape: LearningRateSchedule.Shape
        switch schedule {
        case .constant: shape = .constant
        case .cosine: shape = .cosine(end: lrEnd, afterWarmup: false)
        case .multistep: shape = .multiStep(milestones: milestones, gamma: 0.1)
        case .plateau: shape = .plateau(PlateauRule(patience: patience, stopBelow: nil))
        }
        return LearningRateSchedule(base: lr, shape: shape, warmupEpochs: warmup, warmupStart: warmupStart, epochs: epochs)
    }

    func configuration(objective: TrainingConfiguration.Objective, model: Architecture, classes: Int) -> TrainingConfiguration {
        var c = TrainingConfiguration(model: model, classes: classes, epochs: epochs, batch: batch, optimizer: optimizerRule(),
                                      parameterGroups: ParameterGroups(weightDecay: weightDecay, noDecayOnOneDimensional: noDecay1D),
                                      schedule: scheduleValue())
        c.objective = objective
        c.modality = modality; c.width = width; c.layerScale = layerScale; c.clip = clip; c.shortSide = shortSide; c.crop = crop
        c.cropKind = cropKind; c.flipProbability = flip ?? 0.5; c.normalisation = normalise
        c.randAugment = randAugment ? RandAugmentConfig() : nil; c.erasingProbability = erasing
        c.augmentedCopies = copies; c.accumulate = accumulate; c.gradientClipNorm = clipGrad
        c.labelSmoothing = labelSmoothing; c.mix = mix ? MixConfig(labelSmoothing: labelSmoothing) : nil
        c.seed = seed; c.threads = engineThreads; c.validateEvery = validateEvery; c.checkpointEverySteps = checkpointEvery
        if let s = ClipSpec(clip) { c.tclrLocalClips = max(1, s.frames / 4) }
        if syncBatchNorm { c.syncBatchNorm = true }
        if convolution.bf16 { c.bf16Convolutions = true }
        return c
    }

    /// Runs the loop, logging every event to RUNDIR/log.jsonl and drawing progress on stderr.
    func run(_ config: TrainingConfiguration, network: TrainableNetwork, train: ClipLoader, validation: ClipLoader?) throws {
        convolution.select()
        let world = Cluster.world
        Cluster.warnIfOversubscribed(threads: engineThreads, workers: loaderWorkers)
        if world.size > 1 {
            note("data-parallel: \(world.size) processes, \(config.batch / world.size)-\((config.batch + world.size - 1) / world.size) videos each of every batch of \(config.batch)"
                 + (config.syncBatchNorm == true ? ", synchronised batch norm" : ", batch norm per process"))
        }
        let dir = RunDirectory(out)
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        // A resumed run keeps the log up to its checkpoint; what came after is redone.
        var keepUpToStep = 0
        if resume, FileManager.default.fileExists(atPath: dir.latest) {
            keepUpToStep = try TrainingCheckpoint(contentsOf: dir.latest).step
        }
        // The first process alone writes the log, the checkpoints and the store.
        let log = Cluster.isRoot ? try TrainingLog(path: dir.log, keepUpToStep: resume ? keepUpToStep : 0) : nil
        let commit = MachineInfo.current(askToolchain: false).git.commit ?? "unknown"
        var bar: ProgressBar?
        var epochRates: [Double] = []
        var lastValidation: ValidationResult?
        var bestValidation: ValidationResult?
        let train = { try Training.train(config, network: network, train: train, validation: validation, directory: dir,
                                         resume: resume, commit: commit, world: world) { event in
            log?.write(event)
            switch event {
            case .started(let s):
                if let r = s.resumedFrom { note("resuming at epoch \(r[0] + 1), batch \(r[1]), step \(r[2])") }
                note("\(s.trainingVideos) training videos, \(s.validationVideos) validation videos, \(s.stepsPerEpoch) steps per epoch, \(s.parameters) parameters")
            case .step(let r):
                guard isatty(STDERR_FILENO) != 0 else { break }  // logs get the epoch lines only
                if bar == nil || r.batch == 0 { bar = ProgressBar(total: r.batches, label: "epoch \(r.epoch + 1)/\(config.epochs)") }
                bar?.update(r.batch + 1, detail: String(format: "loss %.4f  lr %.3g  %.1f clips/s", r.loss, r.lr, r.clipsPerSecond))
            case .epoch(let e):
                bar = nil
                epochRates.append(e.clipsPerSecond)
                if let v = e.validation { lastValidation = v; if e.isBest { bestValidation = v } }
                var line = String(format: "epoch %d/%d  loss %.4f  %.1f clips/s  %.1f s", e.epoch + 1, config.epochs, e.meanLoss, e.clipsPerSecond, e.seconds)
                if let v = e.validation { line += String(format: "  val top-1 %.1f %%  top-5 %.1f %% (%d videos)%@", 100 * v.top1, 100 * v.top5, v.videos, e.isBest ? "  best" : "") }
                note(line)
                if json, let s = try? encodeJSON(e, pretty: false) { print(s); fflush(stdout) }
            case .checkpoint: break
            case .dataFailures(let epoch, let batch, let failures):
                note("epoch \(epoch + 1), batch \(batch): \(failures.count) video(s) could not be read and were left out: " + failures.joined(separator: "; "))
            }
        } }
        let summary: TrainingSummary
        if record && Cluster.isRoot {
            let db = try ResultsStore(path: ResultsStore.resolvePath(store.db))
            var machine = MachineInfo.current(askToolchain: false)
            if let mpi = Cluster.mpi { machine.job = .init(processes: mpi.size, hosts: mpi.hosts, threadsPerProcess: config.threads) }
            summary = try withRun(store: db, configuration: "train:\(config.model.rawValue):\(config.hash)", profile: "custom",
                                  seed: Int(config.seed), machine: machine) { run in
                let s = try train()
                var metrics: [MetricRecord] = []
                for (variant, v) in [("best", bestValidation), ("last", lastValidation)] {
                    guard let v else { continue }
                    metrics.append(MetricRecord(split: "val", spatialCrops: 1, temporalClips: 1, samplingRule: "slowfast-offset",
                                                aggregation: "mean-softmax", metric: "top1", variant: variant, value: v.top1))
                    metrics.append(MetricRecord(split: "val", spatialCrops: 1, temporalClips: 1, samplingRule: "slowfast-offset",
                                                aggregation: "mean-softmax", metric: "top5", variant: variant, value: v.top5))
                }
                if let loss = s.lastLoss {
                    metrics.append(MetricRecord(split: "train", spatialCrops: 1, temporalClips: 1, samplingRule: "random",
                                                metric: "loss", variant: "last", value: loss))
                }
                try db.record(metrics: metrics, run: run)
                let rates = epochRates.sorted()
                if !rates.isEmpty {
                    try db.record(performance: [PerformanceRecord(model: config.model.rawValue, mode: "training",
                        inputShape: "\(config.modality.channels)x\(config.clipSpec!.frames)x\(config.crop)x\(config.crop)",
                        batch: config.batch, clipsPerSecond: rates[rates.count / 2], threads: config.threads)], run: run)
                }
                var artifacts = [ArtifactRecord(runID: run, path: dir.configuration, kind: "configuration",
                                                sha256: try SHA256.hex(fileAt: dir.configuration)),
                                 ArtifactRecord(runID: run, path: dir.latest, kind: "checkpoint", sha256: try SHA256.hex(fileAt: dir.latest))]
                if let best = s.bestCheckpoint {
                    artifacts.append(ArtifactRecord(runID: run, path: best, kind: "checkpoint", sha256: try SHA256.hex(fileAt: best)))
                }
                try db.record(artifacts: artifacts)
                note("recorded as run \(run) in \(db.path)")
                return s
            }
        } else {
            summary = try train()
        }
        guard Cluster.isRoot else { return }
        if json { print(try encodeJSON(summary, pretty: false)) } else {
            note("done: \(summary.steps) steps; " + (summary.bestTop1.map { String(format: "best val top-1 %.1f %% (epoch %d), last %.1f %%", 100 * $0, (summary.bestEpoch ?? 0) + 1, 100 * (summary.lastTop1 ?? 0)) } ?? "no validation")
                 + "; checkpoints in \(out)")
        }
    }
}

/// RUNDIR/log.jsonl: one JSON object per step and per epoch, for a caller to record.
final class TrainingLog {
    let handle: FileHandle
    init(path: String, keepUpToStep: Int) throws {
        var kept: [String] = []
        if keepUpToStep > 0, let text = try? String(contentsOfFile: path, encoding: .utf8) {
            for line in text.split(separator: "\n") {
                if let obj = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                   let step = obj["step"] as? Int, step <= keepUpToStep { kept.append(String(line)) }
            }
        }
        try Data((kept.map { $0 + "\n" }.joined()).utf8).write(to: URL(fileURLWithPath: path))
        handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        handle.seekToEndOfFile()
    }

    func write(_ event: TrainingEvent) {
        struct Line<T: Encodable>: Encodable { var kind: String; var record: T }
        let text: String?
        switch event {
        case .step(let r): text = try? encodeJSON(StepLine(kind: "step", r), pretty: false)
        case .epoch(let e): text = try? encodeJSON(EpochLine(kind: "epoch", e), pretty: false)
        default: text = nil
        }
        if let text { handle.write(Data((text + "\n").utf8)) }
    }
}

struct StepLine: Encodable {
    var kind: String, epoch: Int, batch: Int, step: Int, loss: Double, lr: Double, clipsPerSecond: Double
    init(kind: String, _ r: StepRecord) {
        self.kind = kind; epoch = r.epoch; batch = r.batch; step = r.step; loss = r.loss; lr = r.lr; clipsPerSecond = r.clipsPerSecond
    }
}

struct EpochLine: Encodable {
    var kind: String, epoch: Int, step: Int, meanLoss: Double, lr: Double, clipsPerSecond: Double
    var valTop1: Double?, valTop5: Double?, valLoss: Double?
    init(kind: String, _ e: EpochRecord) {
        self.kind = kind; epoch = e.epoch; step = e.step; meanLoss = e.meanLoss; lr = e.lr; clipsPerSecond = e.clipsPerSecond
        valTop1 = e.validation?.top1; valTop5 = e.validation?.top5; valLoss = e.validation?.loss
    }
}

struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a network (from scratch, or fine-tune with --init-from) with labels.",
        discussion: """
            Every random draw (initialisation, sample order, augmentation, dropout, mixing) comes \
            from a generator derived from (--seed, epoch, batch), so the same seed and thread count \
            give bit-identical weights, and --resume after a kill ends exactly where an \
            uninterrupted run would. Validation is the centre crop of the middle clip of every \
            validation video (video top-1).

            Example (the embedded motion set, a width-1/8 R3D-18):
              vipbench train r3d18 --data data/motion --out runs/r3d18 --width 0.125 --clip 8x4 \\
                --short-side 40 --crop 32 --batch 16 --epochs 60 --flip 0 --normalise slowfast
            """)

    @Argument(help: ArgumentHelp("The network.", valueName: "model"))
    var model: Architecture
    @OptionGroup var options: TrainingOptions

    func run() throws {
        let dataset = try VideoDataset.challenge(root: options.data)
        let config = options.configuration(objective: .supervised, model: model, classes: dataset.classes.count)
        if options.printConfig { print(config.json); return }
        try config.validate()
        note("configuration \(config.hash):\n\(config.json)")
        let network = try TrainingSetup.network(config)
        if let initFrom = options.initFrom, !(options.resume && FileManager.default.fileExists(atPath: RunDirectory(options.out).latest)) {
            let r = try initialise(network.module, from: initFrom)
            note("initialised \(r.loaded.count) tensors from \(initFrom); skipped \(r.skipped.count) of the file's (\(r.skipped.prefix(6).joined(separator: ", "))\(r.skipped.count > 6 ? ", ..." : "")); \(r.fresh.count) start fresh (\(r.fresh.prefix(6).joined(separator: ", "))\(r.fresh.count > 6 ? ", ..." : ""))")
        }
        let (loader, valLoader) = try TrainingSetup.loaders(config, dataset: dataset, flowRoot: options.flow, workers: options.loaderWorkers,
                                                            cacheBytes: options.cacheMB * 1_000_000, limit: options.limitVideos,
                                                            world: Cluster.world)
        try options.run(config, network: network, train: loader, validation: valLoader)
    }
}

struct PretrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pretrain", abstract: "Self-supervised pretraining.", subcommands: [TCLRPretrain.self])

    struct TCLRPretrain: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "tclr",
            abstract: "TCLR pretraining (no labels read): the TCLR R3D-18 (or an R3D-50) and its projection head, four contrastive losses.",
            discussion: """
                Per video: one global clip (--clip, 16x4 in the report) and frames/4 local clips of \
                consecutive frames spread over its span, two augmentations of each; the loss is the \
                sum of TCLR's four terms (temperature 0.1). The report's recipe: Adam, lr 1e-3, \
                weight decay 1e-9, batch 40, warm-up factors 1/100 .. 1 over 5 epochs, then the \
                plateau rule with patience 9. Fine-tune with `vipbench train r3d18-tclr --init-from \
                RUNDIR/latest.safetensors` (`train r3d50` after `pretrain tclr r3d50`).
                """)

        @Argument(help: ArgumentHelp("The backbone: r3d18-tclr (TCLR's), or r3d50 (with the same unstrided, dilated stage 4 in pretraining; fine-tune a plain r3d50 from it).", valueName: "model")) var model: Architecture = .r3d18TCLR
        @OptionGroup var options: TrainingOptions

        func run() throws {
            let dataset = try VideoDataset.challenge(root: options.data)
            var config = options.configuration(objective: .tclr, model: model, classes: dataset.classes.count)
            config.validateEvery = 0
            if options.printConfig { print(config.json); return }
            try config.validate()
            note("configuration \(config.hash):\n\(config.json)")
            let (loader, _) = try TrainingSetup.loaders(config, dataset: dataset, flowRoot: options.flow, workers: options.loaderWorkers,
                                                        cacheBytes: options.cacheMB * 1_000_000, limit: options.limitVideos,
                                                        world: Cluster.world)
            try options.run(config, network: try TrainingSetup.network(config), train: loader, validation: nil)
        }
    }
}
