import Data
import Engine
import Evaluation
import Foundation
import Store
import Training

/// Runs Table 1's rows stage by stage: TCLR pretraining, training or fine-tuning, test scores,
/// evaluation under several view schemes, the ensemble, each result recorded in the store.
///
/// Every stage's output lives under `work/<row name>-<configuration hash>/seed<k>/`, so a
/// changed configuration never reuses another's files. Training resumes from its latest
/// checkpoint (a finished run returns at once), a scores file is written to a temporary name and
/// renamed, and a result already recorded for the same scores file (same SHA-256) is not recorded
/// again: a killed run started again redoes only the unfinished stage. A failing stage names row,
/// stage and cause, and the other rows go on.
public struct Runner {
    public var profile: Profile
    public var rows: [Table1Row]
    public var seeds: [UInt64]
    public var dataset: VideoDataset
    public var flowRoot: String?
    public var work: String
    public var store: ResultsStore
    public var threads = 2
    public var workers = 2
    /// Recorded with every checkpoint and run (the caller knows the machine and the commit).
    public var commit = "unknown"
    public var provenance: RunProvenance?
    /// Views evaluated from each row's scores file (crops x clips subsets of its own views).
    public var viewSchemes = ["1x1", "3x1", "1x10", "3x10"]
    /// Also score every row under each temporal rule and crop rule with 1, 5 and 10 clips placed by
    /// the rule (3 crops, and the centre one of them), recorded as `table1:<profile>:rowN:sweep`.
    public var sweep = false
    /// The processes of a data-parallel job (mpirun): every one runs the same stages; training and
    /// scoring are shared among them, and the first alone writes files others read (then waits for
    /// all), records results and reports events.
    public var world: Collective = SingleProcess()
    /// Under mpirun, a stage that fails on one process cannot be skipped by the others (they would
    /// wait in a collective): this ends the job, naming the row and stage (nil: one process).
    public var abortJob: ((String) -> Never)?
    var isRoot: Bool { world.rank == 0 }
    /// Synchronised batch norm in every training stage (a configuration of its own: its hash differs).
    public var syncBatchNorm = false
    /// The fast mode (BF16 multiplies in convolutions) in every training and test stage (a
    /// configuration of its own: its hash differs).
    public var bf16Convolutions = false

    public init(profile: Profile, rows: [Table1Row], seeds: [UInt64], dataset: VideoDataset, flowRoot: String?, work: String,
                store: ResultsStore) {
        self.profile = profile; self.rows = rows; self.seeds = seeds; self.dataset = dataset; self.flowRoot = flowRoot
        self.work = work; self.store = store
    }

    public enum Event: Sendable {
        case stage(row: String, seed: UInt64, stage: String, message: String)
        case training(row: String, seed: UInt64, stage: String, TrainingEvent)
    }

    public struct Outcome: Sendable {
        public var key: String
        public var seed: UInt64
        /// views -> video top-1 on validation.
        public var top1: [String: Double]
        public var scores: String?
        public var failure: String?
        /// The test split's scores file (where the dataset has one) and, where its labels are known
        /// (the embedded set), views -> video top-1 on test.
        public var testScores: String? = nil
        public var testTop1: [String: Double] = [:]
        /// An ensemble's weight per member.
        public var weights: [String: Double] = [:]
        /// Each training stage's curve (pretrain, train), epoch by epoch.
        public var curves: [String: [EpochRecord]] = [:]
        /// The crop and sampling sweep's figures (with `--sweep`).
        public var sweep: [SweepPoint] = []
    }

    /// One figure of the crop and sampling sweep: a temporal rule and a crop rule at crops x clips.
    public struct SweepPoint: Sendable, Equatable {
        public var rule: TestSamplingRule
        public var cropRule: CropRule
        public var crops: Int
        public var clips: Int
        public var top1: Double
        public var gmacsPerVideo: Double
    }

    /// The configuration a row runs with for one seed.
    public func configuration(_ row: Table1Row, seed: UInt64) -> RowConfiguration {
        var c = Table1Configurations.row(row, profile: profile, classes: dataset.classes.count)
        c.training.seed = seed
        c.pretraining?.seed = seed
        c.apply(syncBatchNorm: syncBatchNorm, bf16Convolutions: bf16Convolutions)
        return c
    }

    public func directory(_ c: RowConfiguration) -> String { "\(work)/\(c.name)-\(c.hash.prefix(8))/seed\(c.training.seed)" }

    /// A TCLR pretraining lives under its own configuration's hash, not its row's: rows whose
    /// pretraining is the same (rows 5 and 7 pretrain the same TCLR R3D-18) run it once.
    public func pretrainingDirectory(_ pre: TrainingConfiguration) -> String {
        "\(work)/pretrain_\(pre.model.rawValue)_tclr_\(profile.rawValue)-\(pre.hash.prefix(8))/seed\(pre.seed)"
    }

    public func run(events allEvents: (Event) -> Void) -> [Outcome] {
        let root = isRoot
        func events(_ e: Event) { if root { allEvents(e) } }
        var outcomes: [Outcome] = []
        for seed in seeds {
            var members: [EnsembleMember] = []
            for row in rows {
                let c = configuration(row, seed: seed)
                do {
                    let o = try runRow(c, events: events)
                    outcomes.append(o)
                    if let s = o.scores {
                        members.append(EnsembleMember(key: "row\(row.rawValue)", validation: s, test: o.testScores,
                                                      flow: c.training.modality == .flow))
                    }
                } catch {
                    if world.size > 1, let abortJob { abortJob("\(c.name) seed \(seed): \(error)") }
                    events(.stage(row: c.name, seed: seed, stage: "failed", message: "\(error)"))
                    outcomes.append(Outcome(key: "row\(row.rawValue)", seed: seed, top1: [:], scores: nil, failure: "\(error)"))
                }
            }
            if members.count >= 2 && root {
                do { outcomes += try ensembles(members, seed: seed, events: events) } catch {
                    events(.stage(row: "ensemble", seed: seed, stage: "failed", message: "\(error)"))
                    outcomes.append(Outcome(key: "ensemble", seed: seed, top1: [:], scores: nil, failure: "\(error)"))
                }
            }
        }
        return outcomes
    }

    func runRow(_ c: RowConfiguration, events: (Event) -> Void) throws -> Outcome {
        let dir = directory(c)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        if isRoot { try Data(c.json.utf8).write(to: URL(fileURLWithPath: dir + "/row.json")) }
        let seed = c.training.seed
        func say(_ stage: String, _ m: String) { events(.stage(row: c.name, seed: seed, stage: stage, message: m)) }
        var initFrom: String?
        var curves: [String: [EpochRecord]] = [:]
        let run = RunDirectory(dir + "/train")
        if let pre = c.pretraining {
            let shared = RunDirectory(pretrainingDirectory(pre))
            // Earlier versions kept the pretraining inside the row's folder.
            let legacy = RunDirectory(dir + "/pretrain")
            if isWritten(run.latest) {
                // Fine-tuning has begun, so the pretraining it started from was complete.
                let found = [shared, legacy].first { FileManager.default.fileExists(atPath: $0.latest) }
                curves["pretrain"] = try found.map { try TrainingCheckpoint.history(ofFileAt: $0.latest) } ?? []
            } else {
                say("pretrain", "TCLR pretraining, \(pre.epochs) epochs (\(shared.path))")
                let (loader, _) = try TrainingSetup.loaders(pre, dataset: dataset, flowRoot: flowRoot, workers: workers, world: world)
                let s = try Training.train(pre, network: try TrainingSetup.network(pre), train: loader, validation: nil, directory: shared,
                                           resume: true, commit: commit, world: world,
                                           threads: world.size > 1 ? threads : nil) { events(.training(row: c.name, seed: seed, stage: "pretrain", $0)) }
                curves["pretrain"] = s.history
                initFrom = shared.latest
            }
        }
        let t = c.training
        let network = try TrainingSetup.network(t)
        if let initFrom {   // set only when fine-tuning had not begun
            let r = try initialise(network.module, from: initFrom)
            say("train", "initialised \(r.loaded.count) tensors from the pretraining, \(r.fresh.count) fresh")
        }
        say("train", "\(t.model) \(t.modality.rawValue) \(t.clip), \(t.epochs) epochs")
        let (loader, val) = try TrainingSetup.loaders(t, dataset: dataset, flowRoot: flowRoot, workers: workers, world: world)
        let summary = try Training.train(t, network: network, train: loader, validation: val, directory: run, resume: true,
                                         commit: commit, world: world, threads: world.size > 1 ? threads : nil) { events(.training(row: c.name, seed: seed, stage: "train", $0)) }
        curves["train"] = summary.history
        let scoresPath = try scores(c, split: "val", checkpoint: summary.latestCheckpoint, directory: dir, say: say)
        // The test split (the embedded set's labels are known; the challenge's are not) is what
        // the ensemble's weights, searched on validation, are applied to.
        // A test split that cannot be scored (its flow missing, say) costs the row its test figures
        // and its place in the test ensembles, not its validation result.
        var testPath: String?
        if !dataset.items(split: "test").isEmpty {
            do { testPath = try scores(c, split: "test", checkpoint: summary.latestCheckpoint, directory: dir, say: say) } catch {
                // Under mpirun the ranks cannot be sure to have failed alike: the job ends.
                if world.size > 1, let abortJob { abortJob("\(c.name) seed \(seed): test scores: \(error)") }
                say("test", "the test split is not scored: \(error)")
            }
        }
        // Evaluation and recording are the first process's; the others go on to the next stage
        // that needs them.
        guard isRoot else {
            if sweep { _ = try runSweep(c, checkpoint: summary.latestCheckpoint, directory: dir, say: say) }
            return Outcome(key: "row\(c.row.rawValue)", seed: seed, top1: [:], scores: scoresPath, failure: nil, testScores: testPath)
        }
        let (top1, testTop1) = try evaluateAndRecord(key: "row\(c.row.rawValue)", seed: seed, scores: scoresPath, test: testPath,
                                                     configuration: c.hash, configurationFile: dir + "/row.json", curves: curves)
        say("eval", top1.sorted { $0.key < $1.key }.map { String(format: "%@ %.1f %%", $0.key, 100 * $0.value) }.joined(separator: ", ")
            + (testTop1[c.test.views].map { String(format: "; test %@ %.1f %%", c.test.views, 100 * $0) } ?? ""))
        let points = sweep ? try runSweep(c, checkpoint: summary.latestCheckpoint, directory: dir, say: say) : []
        return Outcome(key: "row\(c.row.rawValue)", seed: seed, top1: top1, scores: scoresPath, failure: nil,
                       testScores: testPath, testTop1: testTop1, curves: curves, sweep: points)
    }

    /// Whether `path` exists, as the first process sees it, on every process (one branch for all,
    /// whatever another host's filesystem answers).
    func isWritten(_ path: String) -> Bool { world.firstDecides(FileManager.default.fileExists(atPath: path)) }

    /// A row's scores file for one split under its test protocol, written once (the scores file's
    /// own write goes through a temporary name, so a killed run leaves no half file).
    func scores(_ c: RowConfiguration, split: String, checkpoint: String, directory dir: String,
                say: (String, String) -> Void) throws -> String {
        let path = dir + "/scores-\(split)-\(c.test.rule.rawValue)-\(c.test.views).safetensors"
        if !isWritten(path) {
            say("test", "\(split): \(c.test.views) views, \(c.test.rule.rawValue)")
            var q = Scoring.Request(checkpoint: checkpoint, split: split, crops: c.test.spatialCrops,
                                    clips: c.test.temporalClips, rule: c.test.rule, cropRule: c.test.cropRule,
                                    shortSide: c.test.shortSide, crop: c.test.crop, flowRoot: flowRoot)
            q.threads = threads
            _ = try Scoring.run(q, dataset: dataset, output: path, world: world)
            world.barrier()   // the first process has written it
        }
        return path
    }

    /// The crop and sampling sweep of one row: a scores file per (crop rule, temporal rule, clips),
    /// each evaluated at 1 and 3 crops, with the cost per video (views x GMACs per view, and the
    /// seconds measured per video), all recorded as one run.
    func runSweep(_ c: RowConfiguration, checkpoint: String, directory dir: String, say: (String, String) -> Void) throws -> [SweepPoint] {
        let t = c.training
        let gmacs = Planner.gmacsPerTestView(c)
        var records: [MetricRecord] = []
        var points: [SweepPoint] = []
        var files: [String] = []
        for cropRule in CropRule.allCases {
            for rule in TestSamplingRule.allCases {
                for clips in [1, 5, 10] {
                    let path = dir + "/sweep-val-\(cropRule.rawValue)-\(rule.rawValue)-3x\(clips).safetensors"
                    if !isWritten(path) {
                        var q = Scoring.Request(checkpoint: checkpoint, split: "val", crops: 3, clips: clips, rule: rule, cropRule: cropRule,
                                                shortSide: c.test.shortSide, crop: c.test.crop, flowRoot: flowRoot)
                        q.threads = threads
                        _ = try Scoring.run(q, dataset: dataset, output: path, world: world)   // written atomically
                        world.barrier()
                    }
                    files.append(path)
                    guard isRoot else { continue }
                    let file = try ScoresFile(contentsOf: path)
                    let seconds = Double(file.metadata["seconds"] ?? "") ?? .nan
                    let label = "\(rule.rawValue)/\(cropRule.rawValue)"
                    for crops in [1, 3] {
                        let e = try Evaluation(file, views: try ViewSelection.parse("\(crops)x\(clips)", for: file), aggregation: .meanSoftmax)
                        records += e.metricRecords(split: "val", samplingRule: label)
                        points.append(SweepPoint(rule: rule, cropRule: cropRule, crops: crops, clips: clips, top1: e.score.video["top1"] ?? .nan,
                                                 gmacsPerVideo: gmacs * Double(crops * clips)))
                        records.append(MetricRecord(split: "val", spatialCrops: crops, temporalClips: clips, samplingRule: label,
                                                    metric: "gmacs", variant: "per-video", value: gmacs * Double(crops * clips)))
                    }
                    // Measured for all 3 crops; the 1-crop figure is its third (the same clips, one crop).
                    records.append(MetricRecord(split: "val", spatialCrops: 3, temporalClips: clips, samplingRule: label,
                                                metric: "seconds", variant: "per-video", value: seconds / Double(max(file.videoCount, 1))))
                }
            }
        }
        guard isRoot else { return [] }
        let config = RowKey.configuration(profile: profile.rawValue, key: "row\(c.row.rawValue):sweep")
        if try store.runs(configuration: config).contains(where: { $0.status == .finished && $0.seed == Int(t.seed) }) { return points }
        let run = try store.beginRun(configuration: config, profile: profile.rawValue, seed: Int(t.seed), provenance: runProvenance())
        try store.record(metrics: records, run: run)
        try store.record(artifacts: try files.map { ArtifactRecord(runID: run, path: $0, kind: "scores", sha256: try SHA256.hex(fileAt: $0)) })
        try store.finishRun(run, status: .finished)
        say("sweep", "\(files.count) scores files: every temporal rule and crop rule at 1x1 ... 3x10, recorded")
        return points
    }

    public func runProvenance() -> RunProvenance {
        provenance ?? RunProvenance(gitCommit: nil, gitDirty: nil, host: ProcessInfo.processInfo.hostName,
                                    pid: Int(ProcessInfo.processInfo.processIdentifier), cpu: "", blas: engineLibraries,
                                    blasThreads: threads, swiftVersion: "", commandLine: CommandLine.arguments.joined(separator: " "))
    }

    /// Evaluates every view scheme the validation file holds, and the test file's where its labels
    /// are known, and records them as one run (once per validation file).
    func evaluateAndRecord(key: String, seed: UInt64, scores path: String, test testPath: String? = nil, configuration hash: String,
                           configurationFile: String? = nil, curves: [String: [EpochRecord]] = [:],
                           extra: [MetricRecord] = []) throws -> (validation: [String: Double], test: [String: Double]) {
        func evaluate(_ file: ScoresFile, split: String) throws -> ([String: Double], [MetricRecord]) {
            var top1: [String: Double] = [:]
            var records: [MetricRecord] = []
            let rule = file.metadata["sampling_rule"] ?? ""
            let own = "\(file.spatialCrops)x\(file.temporalClips)"
            for scheme in viewSchemes + (viewSchemes.contains(own) ? [] : [own]) {
                guard let views = try? ViewSelection.parse(scheme, for: file) else { continue }
                let e = try Evaluation(file, views: views, aggregation: .meanSoftmax)
                records += e.metricRecords(split: split, samplingRule: rule)
                top1[scheme] = e.score.video["top1"]
            }
            return (top1, records)
        }
        var (top1, records) = try evaluate(try ScoresFile(contentsOf: path), split: "val")
        var testTop1: [String: Double] = [:]
        if let testPath, case let file = try ScoresFile(contentsOf: testPath), file.labels.allSatisfy({ $0 != nil }) {
            let (t, r) = try evaluate(file, split: "test")
            testTop1 = t
            records += r
        }
        records += extra
        let sha = try SHA256.hex(fileAt: path)
        let config = RowKey.configuration(profile: profile.rawValue, key: key)
        for run in try store.runs(configuration: config) where run.status == .finished {
            if try store.artifacts(run: run.id).contains(where: { $0.sha256 == sha && $0.kind == "scores" }) { return (top1, testTop1) }
        }
        let run = try store.beginRun(configuration: config, profile: profile.rawValue, seed: Int(seed), provenance: runProvenance())
        try store.record(metrics: records, run: run)
        try store.record(epochs: curves.sorted { $0.key < $1.key }.flatMap { stage, history in
            history.map { e in
                EpochCurveRecord(stage: stage, epoch: e.epoch, step: e.step, trainLoss: e.meanLoss, lr: e.lr,
                                 clipsPerSecond: e.clipsPerSecond, seconds: e.seconds, valTop1: e.validation?.top1,
                                 valTop5: e.validation?.top5, valLoss: e.validation?.loss)
            }
        }, run: run)
        var artifacts = [ArtifactRecord(runID: run, path: path, kind: "scores", sha256: sha)]
        if let testPath { artifacts.append(ArtifactRecord(runID: run, path: testPath, kind: "scores-test", sha256: try SHA256.hex(fileAt: testPath))) }
        if let f = configurationFile {
            artifacts.append(ArtifactRecord(runID: run, path: f, kind: "configuration:\(hash)", sha256: try SHA256.hex(fileAt: f)))
        }
        try store.record(artifacts: artifacts)
        try store.finishRun(run, status: .finished)
        return (top1, testTop1)
    }
}
