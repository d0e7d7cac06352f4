import ArgumentParser
import Data
import Experiments
import Flow
import Plot
import Store
import Foundation
import Benchmarking
import Distributed
import Engine
import Harness
import Training

extension Profile: ExpressibleByArgument {}

enum Sabotage: String, ExpressibleByArgument { case labels }

/// What the cost stage measures.
enum CostScope: String, ExpressibleByArgument, CaseIterable {
    /// The profile's size and the paper's (batch 1: seconds a clip at paper size here).
    case full
    /// The profile's size only.
    case scaled
    case skip
}

struct ReproduceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reproduce",
        abstract: "Table 1's rows as configurations: print them, and plan their stages with cost and time on this machine.",
        discussion: """
            Profiles: paper (the report's settings, on the real Kinetics400ViPriors layout), mini \
            (all rows scaled, on the embedded motion set) and smoke (every stage on a tiny budget). \
            --print-config prints each row's resolved configuration with the choices the report \
            does not state; --dry-run prints every stage's GMACs and clips and the time it would \
            take here, from throughput measured now (one training step and one inference per \
            network), without reading any video. With --data, the plan counts that folder's \
            videos and lists those missing. Without either, runs the stages (data, flow, \
            pretraining, training, test scores, evaluation, ensemble) and writes the report; a \
            killed run started again redoes only what was unfinished.
            """)

    @Option(help: "paper, mini or smoke.") var profile: Profile = .mini
    @Option(help: ArgumentHelp("Rows to include, comma-separated (default: all).", valueName: "1,6,7")) var rows: String?
    @Option(help: ArgumentHelp("A dataset in the challenge's layout (default: the paper's counts, or the embedded set's).", valueName: "dir")) var data: String?
    @Flag(name: .customLong("print-config"), help: "Print each row's resolved configuration (JSON) and its hash.") var printConfig = false
    @Flag(name: .customLong("dry-run"), help: "Plan the stages with cost and estimated time; run nothing.") var dryRun = false
    @Flag(name: .customLong("no-measure"), help: "With --dry-run: GMACs and clips only, no throughput measurement.") var noMeasure = false
    @Option(help: "Threads of the engine, BLAS and flow extraction, and of the throughput measurement (default 2; under mpirun, the host's cores shared by its ranks).")
    var threads: Int?
    var engineThreads: Int { threads ?? Cluster.defaultThreads }
    @Flag(help: "Print JSON.") var json = false
    @Option(help: ArgumentHelp("Extracted flow of --data (default: beside the data, <data>-flow, extracted when missing).", valueName: "dir")) var flow: String?
    @Option(parsing: .upToNextOption, help: "Seeds (each row is run once per seed).") var seeds: [UInt64] = [0]
    @Option(help: ArgumentHelp("Where the stages keep their files.", valueName: "dir")) var work: String = "results/runs"
    @Option(help: ArgumentHelp("The report to write.", valueName: "file")) var report: String = "results/REPORT.md"
    @OptionGroup var store: StoreOptions
    @Option(help: .hidden) var sabotage: Sabotage?
    @Flag(help: "Also the crop and sampling sweep: every temporal rule and crop rule with 1, 5 and 10 clips, at 1 and 3 crops, with the cost per video (about 13x the test stage).")
    var sweep = false
    @Flag(name: .customLong("sync-batch-norm"), help: "Under mpirun: batch-norm statistics over the whole batch of every rank in every training stage (a configuration of its own; default: each rank's part, as PyTorch's DDP).")
    var syncBatchNorm = false
    @OptionGroup var convolution: ConvolutionOptions
    @Option(help: "The cost stage: full (each row's training step and test view at the profile's size and at the paper's: parameters, GMACs, clips/s, peak memory), scaled (the profile's size only) or skip. Default: full, scaled for smoke.")
    var cost: CostScope?

    func selectedRows() throws -> [Table1Row] {
        guard let rows else { return Table1Row.allCases }
        return try rows.split(separator: ",").map { text in
            guard let n = Int(text.trimmingCharacters(in: .whitespaces)), let r = Table1Row(rawValue: n) else {
                throw ValidationError("--rows: '\(text)' is not a Table 1 row (1-7)")
            }
            return r
        }
    }

    func validate() throws {
        // Checked before any stage runs: the report is written last, after the whole run.
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: report, isDirectory: &isFolder), isFolder.boolValue {
            throw ValidationError("--report \(report) is a folder: give the report's file, for example \((report as NSString).appendingPathComponent("REPORT.md"))")
        }
    }

    /// A row's configuration with this run's run-wide settings (the runner applies the same per seed).
    func rowConfiguration(_ row: Table1Row, classes: Int) -> RowConfiguration {
        var c = Table1Configurations.row(row, profile: profile, classes: classes)
        c.apply(syncBatchNorm: syncBatchNorm, bf16Convolutions: convolution.bf16)
        return c
    }

    func run() throws {
        // The process's backend names what ran in every recorded provenance; the fast mode is also
        // in each configuration (and so in its hash).
        convolution.select()
        let selected = try selectedRows()
        // Without --data: the paper's counts, or those of the embedded set the profile renders.
        var counts = (train: 40_000, val: 10_000, test: 20_000, classes: 400)
        if let o = profile.embeddedDataset?.options {
            counts = (o.videos.train, o.videos.val, o.videos.test, o.classes)
        }
        var missing: [String] = []
        if !printConfig && !dryRun { return try runStages(selected) }
        if let data {
            let ds = try VideoDataset.challenge(root: data)
            let fm = FileManager.default
            let present = ds.items.filter { fm.fileExists(atPath: $0.path) }
            missing = ds.items.filter { !fm.fileExists(atPath: $0.path) }.map { "\($0.split)/\($0.id)" }
            counts = (ds.items(split: "train").count, ds.items(split: "val").count, ds.items(split: "test").count, ds.classes.count)
            note("\(data): \(ds.classes.count) classes; train \(counts.train), val \(counts.val), test \(counts.test) videos listed; \(present.count) present, \(missing.count) missing, \(ds.knownCorrupt.count) on the corrupt list")
            if !missing.isEmpty {
                note("missing (first 10): " + missing.prefix(10).joined(separator: ", ") + (missing.count > 10 ? ", ..." : ""))
                note("the plan counts every listed video; the runner will leave out the missing ones")
            }
        }
        let configs = selected.map { rowConfiguration($0, classes: counts.classes) }
        if printConfig {
            for c in configs {
                print("# \(c.name) (\(c.hash)); paper's top-1: \(c.row.paperTop1) %")
                print(c.json)
            }
            if !dryRun { return }
        }
        guard dryRun else { return try runStages(selected) }
        var measured: [String: Throughput] = [:]
        var plans: [PlannedStage] = []
        for (c, s) in Planner.stages(configs, trainVideos: counts.train, valVideos: counts.val, testVideos: counts.test) {
            var seconds: Double?
            var source = "not measured"
            if let network = s.model, !noMeasure {
                let width = s.kind == .pretrain ? c.pretraining!.width : c.training.width
                let key = "\(network)|\(s.input)|\(width)|\(s.training)"
                if measured[key] == nil {
                    note("measuring \(network) \(s.input.map(String.init).joined(separator: "x")) width \(width) \(s.training ? "training step" : "inference") ...")
                    // The profile's own batch where it fits (small clips), 1 at paper size (an R3D-50
                    // training step at batch 2 needs more memory than a 24 GB machine has); at
                    // least a second of repeats.
                    let batch = profile == .paper ? 1 : 16
                    let r = ModelBenchmark.run(model: network, input: s.input, batch: batch, threads: engineThreads, train: s.training,
                                                   classes: counts.classes, width: width, minimumSeconds: 1)
                    measured[key] = Throughput(secondsPerClip: r.secondsPerClip, source: "measured now (\(engineThreads) threads)")
                }
                seconds = measured[key]!.secondsPerClip * s.clips
                source = measured[key]!.source
            }
            plans.append(PlannedStage(stage: s, estimatedSeconds: seconds, source: source, configuration: c.name))
        }
        if json { print(try encodeJSON(plans)); return }
        print("profile \(profile.rawValue): \(counts.train) train, \(counts.val) val, \(counts.test) test videos; GMACs are multiply-accumulates per clip")
        let table = Tabular(columns: ["row", "stage", "model", "clip CxTxHxW", "GMACs/clip", "clips", "estimate", "note"],
                            rows: plans.map { p in
                                [.int(p.stage.row.rawValue), .text(p.stage.kind.rawValue), .text(p.stage.worker),
                                 .text(p.stage.input.map(String.init).joined(separator: "x")),
                                 .number(p.stage.gmacsPerClip, digits: 3), .number(p.stage.clips, digits: 0),
                                 .text(p.estimatedSeconds.map(duration) ?? "-"), .text(p.stage.note ?? "")]
                            })
        print(table.render(.table), terminator: "")
        let total = plans.compactMap(\.estimatedSeconds).reduce(0, +)
        if total > 0 { print("total estimate (network stages, one seed): \(duration(total)) on this machine") }
        for c in configs where !c.choices.isEmpty {
            print("row \(c.row.rawValue) choices the report does not state:")
            for ch in c.choices { print("  - \(ch)") }
        }
    }
}

extension ReproduceCommand {
    /// The embedded set for the scaled profiles (rendered where it is missing, and the default
    /// folder again when it was rendered with other settings), or --data.
    func prepareData() throws -> (VideoDataset, String?) {
        guard data != nil || profile != .paper else { throw ValidationError("the paper profile needs --data (the Kinetics400ViPriors folder)") }
        guard let (defaultFolder, options) = profile.embeddedDataset else { return (try VideoDataset.challenge(root: data!), data!) }
        let folder = data ?? defaultFolder
        // Under mpirun the first rank renders; the others wait and read what it rendered.
        guard Cluster.isRoot else {
            Cluster.world.barrier()
            return (try VideoDataset.challenge(root: folder), folder)
        }
        defer { Cluster.world.barrier() }
        let fm = FileManager.default
        let present = fm.fileExists(atPath: folder + "/annotations/clsIdx.csv")
        let found = SyntheticDataset.Manifest.read(from: folder)
        // Another folder given with --data is the user's: used as it is when present. The default
        // folder is vipbench's own: rendered again when its settings are not the profile's.
        let stale = folder == defaultFolder && found != SyntheticDataset.Manifest(options)
        if !present || stale {
            if present {
                note("\(folder) was rendered with other settings (\(found.map { "per class \($0.perClass)" } ?? "no manifest")); rendering it again")
                for sub in ["annotations", "train", "val", "test"] { try? fm.removeItem(atPath: "\(folder)/\(sub)") }
            }
            note("rendering the embedded dataset into \(folder) ...")
            let bar = ProgressBar(total: options.videos.train + options.videos.val + options.videos.test,
                                  label: "videos (render)")
            _ = try SyntheticDataset.generate(into: folder, options: options) { done, _ in bar.update(done) }
        }
        return (try VideoDataset.challenge(root: folder), folder)
    }

    func prepareFlow(_ ds: VideoDataset, root: String, configs: [RowConfiguration]) throws -> String? {
        guard let plan = Planner.flowExtraction(configs) else { return flow }
        let out = flow ?? root + "-flow"
        let extractor = FlowExtractor(parameters: FlowPreset.opencvCPU.parameters, preset: FlowPreset.opencvCPU.rawValue,
                                      shortSide: plan.shortSide, jobs: engineThreads)
        // Every split, test included: the rows are scored on test too (the ensemble's searched
        // weights are applied there).
        let all = ds.items.map { FlowExtractor.Job(id: $0.id, source: $0.path, output: FlowVideo.base(root: out, split: $0.split, id: $0.id)) }
        let world = Cluster.world
        // Under mpirun each rank extracts every N-th video (a stable share: a restart redoes
        // only what is missing), and all wait until every video is done.
        let work = shard(all, rank: world.rank, size: world.size)
        let missing = work.filter { !extractor.isComplete($0) }
        let toDo = world.allSum([missing.count])[0]
        if toDo > 0 {
            note("flow: extracting \(toDo) of \(all.count) videos into \(out) (resumable)" + (world.size > 1 ? " on \(world.size) ranks" : ""))
            let bar = ProgressBar(total: missing.count, label: "videos (flow)")
            let outcomes = extractor.run(missing) { done, _, job, o in
                if case .failed(let why) = o { Cluster.report("\(job.source): flow failed: \(why)") }
                bar.update(done)
            }
            let failed = world.allSum([outcomes.filter { if case .failed = $0 { return true }; return false }.count])[0]
            if failed > 0 { note("flow: \(failed) video(s) failed; the flow rows leave them out") }
        }
        return out
    }

    func runStages(_ selected: [Table1Row]) throws {
        let started = Date()
        var (ds, root) = try prepareData()
        if sabotage == .labels {
            // A deliberately broken pipeline for the gate's own test: every training label moved
            // to the next class, so nothing learnt transfers to validation.
            note("sabotage: training labels shifted by one class")
            let k = ds.classes.count
            for i in ds.items.indices where ds.items[i].split == "train" { ds.items[i].label = ds.items[i].label.map { ($0 + 1) % k } }
        }
        let configs = selected.map { rowConfiguration($0, classes: ds.classes.count) }
        let flowRoot = try prepareFlow(ds, root: root!, configs: configs)
        let db = try ResultsStore(path: ResultsStore.resolvePath(store.db))
        var runner = Runner(profile: profile, rows: selected, seeds: seeds, dataset: ds, flowRoot: flowRoot, work: work, store: db)
        runner.threads = engineThreads
        runner.workers = max(1, min(2, engineThreads))
        runner.sweep = sweep
        runner.world = Cluster.world
        runner.syncBatchNorm = syncBatchNorm
        runner.bf16Convolutions = convolution.bf16
        if let mpi = Cluster.mpi, mpi.size > 1 {
            note("reproduce on \(mpi.size) ranks x \(engineThreads) thread(s): training, test scores and flow are shared; rank 0 records and reports")
            runner.abortJob = { message in
                Cluster.say("vipbench rank \(mpi.rank) of \(mpi.size) (\(mpi.hosts[mpi.rank])): stopping the job: \(message)")
                mpi.abort(code: 1)
            }
        }
        var facts = MachineInfo.current(askToolchain: false)
        if let mpi = Cluster.mpi { facts.job = .init(processes: mpi.size, hosts: mpi.hosts, threadsPerProcess: engineThreads) }
        runner.commit = facts.git.commit ?? "unknown"
        runner.provenance = facts.provenance()
        let outcomes = runner.run { event in
            switch event {
            case .stage(let row, let seed, let stage, let message): note("[\(row) seed \(seed)] \(stage): \(message)")
            case .training(let row, let seed, let stage, let e):
                if case .epoch(let r) = e {
                    var line = String(format: "[%@ seed %d] %@ epoch %d: loss %.4f, %.0f clips/s", row, seed, stage, r.epoch + 1, r.meanLoss, r.clipsPerSecond)
                    if let v = r.validation { line += String(format: ", val top-1 %.1f %%", 100 * v.top1) }
                    note(line)
                }
            }
        }
        // The cost stage, the report and the plots are the first rank's.
        guard Cluster.isRoot else { return }
        var gmacs: [Table1Row: Double] = [:]
        for c in configs { gmacs[c.row] = Planner.gmacsPerTestView(c) }
        var costs: [Table1Row: [PerformanceRecord]] = [:]
        let scope = cost ?? (profile == .smoke ? .scaled : .full)
        if scope != .skip {
            do {
                var paper: [Table1Row: RowConfiguration] = [:]
                if scope == .full && profile != .paper {
                    for c in configs { paper[c.row] = Table1Configurations.row(c.row, profile: .paper, classes: c.training.classes) }
                }
                costs = try CostStage.run(configs, paper: paper, store: db, provenance: runner.runProvenance(), measure: { s in
                    let r = ModelBenchmark.run(model: s.model, input: s.input, batch: s.batch, threads: engineThreads, train: s.training,
                                                   classes: s.classes, width: s.width, minimumSeconds: s.minimumSeconds)
                    return ModelBenchmark.record(r)
                }, say: { row, m in note("[\(row)] \(m)") })
            } catch { note("cost: \(error)") }
        }
        let machine = MachineInfo.current(askToolchain: false)
        let baselinePath = "results/baselines/\(profile.rawValue).json"
        let baseline = FileManager.default.fileExists(atPath: baselinePath) ? try? Baseline.read(baselinePath) : nil
        let text = Report.markdown(profile: profile, configurations: configs, outcomes: outcomes, gmacs: gmacs, costs: costs,
                                   baseline: baseline, seeds: seeds,
                                   commit: machine.git.commit ?? "unknown", machine: "\(machine.cpu.model), \(machine.cpu.cores) cores; convolutions: \(ConvolutionBackend.summary)",
                                   date: ISO8601DateFormatter().string(from: Date()))
        try FileManager.default.createDirectory(atPath: (report as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try text.write(toFile: report, atomically: true, encoding: .utf8)
        let plots = (report as NSString).deletingLastPathComponent + "/plots"
        do {
            try FileManager.default.createDirectory(atPath: plots, withIntermediateDirectories: true)
            _ = try Gnuplot.render(ReportPlot.figure(profile: profile, configurations: configs, outcomes: outcomes), into: plots)
            for f in ReportFigures.all(profile: profile, configurations: configs, outcomes: outcomes, gmacs: gmacs) {
                do { _ = try Gnuplot.render(f, into: plots) } catch { note("plot \(f.name): \(error)") }
            }
        } catch { note("plot: \(error)") }
        let failed = outcomes.filter { $0.failure != nil }
        note(String(format: "reproduce %@: %d result(s), %d failed, %.0f s; report in %@", profile.rawValue, outcomes.count - failed.count,
                    failed.count, Date().timeIntervalSince(started), report))
        for f in failed { note("failed: \(f.key) seed \(f.seed): \(f.failure!)") }
        if !failed.isEmpty { throw ExitCode.failure }
    }
}

struct PlannedStage: Encodable {
    var stage: StagePlan
    var estimatedSeconds: Double?
    var source: String
    var configuration: String
}

func duration(_ s: Double) -> String {
    if s < 120 { return String(format: "%.0f s", s) }
    if s < 7200 { return String(format: "%.0f min", s / 60) }
    if s < 172_800 { return String(format: "%.1f h", s / 3600) }
    return String(format: "%.0f days", s / 86400)
}
