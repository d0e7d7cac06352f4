import ArgumentParser
import Data
import Engine
import Evaluation
import Foundation
import Models
import Training
import Experiments

extension TestSamplingRule: ExpressibleByArgument {}
extension CropRule: ExpressibleByArgument {}

struct TestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "test",
        abstract: "Per-view logits of a trained checkpoint on a split: the scores file `eval`, `ensemble` and `submit` read.",
        discussion: """
            The model, modality, clip, normalisation and sizes come from the checkpoint's \
            configuration. Views are CROPSxCLIPS: 1 or 3 spatial crops of --crop after decoding at \
            --short-side (3 crops lie along the long side), and clips placed by --rule. Videos \
            that cannot be read are reported and left out; the rest are scored.

            Under mpirun the videos are shared among the ranks (every N-th to each) and the first \
            rank writes the one scores file.
            """)

    @Option(help: ArgumentHelp("A training checkpoint (RUNDIR/best.safetensors or latest.safetensors).", valueName: "file")) var checkpoint: String
    @Option(help: ArgumentHelp("The dataset in the challenge's layout.", valueName: "dir")) var data: String
    @Option(help: "val or test (or train).") var split: String = "val"
    @Option(help: ArgumentHelp("Spatial crops x temporal clips.", valueName: "CxT")) var views: String = "3x10"
    @Option(help: "Temporal placement of the clips: \(TestSamplingRule.allCases.map(\.rawValue).joined(separator: ", ")).") var rule: TestSamplingRule = .slowfastOffset
    @Option(name: .customLong("crop-rule"), help: "Where the centre crop lies: slowfast (ceil) or mmaction (floor).") var cropRule: CropRule = .slowfast
    @Option(name: .customLong("short-side"), help: "Decode at this short side (default: the training short side).") var shortSide: Int?
    @Option(help: "Crop size (default: the training crop).") var crop: Int?
    @Option(help: ArgumentHelp("Flow folder, for a flow model (default: none; required then).", valueName: "dir")) var flow: String?
    @Option(help: "Videos per forward batch.") var batch: Int = 4
    @Option(help: "Threads of the engine and BLAS (default 2; under mpirun, the host's cores shared by its ranks).") var threads: Int?
    @Option(help: ArgumentHelp("The scores file to write (.safetensors).", valueName: "file")) var out: String
    @Flag(help: "Print a JSON summary.") var json = false

    func run() throws {
        let parts = views.lowercased().split(separator: "x").compactMap { Int($0) }
        guard parts.count == 2, [1, 3].contains(parts[0]), parts[1] >= 1 else {
            throw ValidationError("--views '\(views)' is not CROPSxCLIPS with 1 or 3 crops (for example 3x10)")
        }
        let (crops, clips) = (parts[0], parts[1])
        let dataset = try VideoDataset.challenge(root: data)
        var q = Scoring.Request(checkpoint: checkpoint, split: split, crops: crops, clips: clips, rule: rule, cropRule: cropRule,
                                shortSide: shortSide, crop: crop, flowRoot: flow)
        q.batch = batch; q.threads = threads ?? Cluster.defaultThreads
        var bar: ProgressBar?
        let r = try Scoring.run(q, dataset: dataset, output: out, world: Cluster.world) { done, total in
            if bar == nil { bar = ProgressBar(total: total, label: "videos") }
            bar?.update(done)
        }
        guard Cluster.isRoot else { return }
        for f in r.failures { note("left out: \(f)") }
        let n = r.scores.videoCount
        let summary = TestSummary(videos: n, failed: r.failures.count, views: crops * clips, seconds: r.seconds,
                                  videosPerSecond: Double(n) / max(r.seconds, 1e-9), out: out)
        if json { print(try encodeJSON(summary, pretty: false)) } else {
            note(String(format: "wrote %@: %d videos x %d views in %.1f s (%.2f videos/s)%@", out, n, crops * clips, r.seconds,
                        summary.videosPerSecond, r.failures.isEmpty ? "" : "; \(r.failures.count) left out"))
        }
    }
}

struct TestSummary: Encodable { var videos: Int, failed: Int, views: Int, seconds: Double, videosPerSecond: Double, out: String }
