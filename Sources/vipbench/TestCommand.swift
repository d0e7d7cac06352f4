import ArgumentParser
import Data
import Engine
import Evaluation
import Foundation
import Models
import Training

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
    @Option(help: "Threads of the engine and BLAS.") var threads: Int = 2
    @Option(help: ArgumentHelp("The scores file to write (.safetensors).", valueName: "file")) var out: String
    @Flag(help: "Print a JSON summary.") var json = false

    func run() throws {
        let parts = views.lowercased().split(separator: "x").compactMap { Int($0) }
        guard parts.count == 2, [1, 3].contains(parts[0]), parts[1] >= 1 else {
            throw ValidationError("--views '\(views)' is not CROPSxCLIPS with 1 or 3 crops (for example 3x10)")
        }
        let (crops, clips) = (parts[0], parts[1])
        let ckpt = try TrainingCheckpoint(contentsOf: checkpoint)
        let c = ckpt.configuration
        guard c.objective == .supervised else { throw ValidationError("\(checkpoint) is a \(c.objective.rawValue) pretraining checkpoint, not a classifier") }
        let size = crop ?? c.crop, side = shortSide ?? c.shortSide
        guard size <= side else { throw ValidationError("--crop \(size) is larger than --short-side \(side)") }
        var g = SeededGenerator(seed: c.seed).derived("init")
        guard let clip = c.clipSpec,
              let model = ModelZoo.make(c.model, inputChannels: c.modality.channels, classes: c.classes, width: c.width,
                                        clip: [clip.frames, size, size], generator: &g) as? (Module & Layer) else {
            throw ValidationError("\(checkpoint): model '\(c.model)' is unknown")
        }
        try ckpt.restore(into: model, path: checkpoint)
        model.eval()
        let dataset = try VideoDataset.challenge(root: data)
        guard dataset.classes.count == c.classes else {
            throw ValidationError("\(data) has \(dataset.classes.count) classes; the checkpoint's model has \(c.classes)")
        }
        let items = dataset.items(split: split).filter { !dataset.knownCorrupt.contains($0.id) }
        guard !items.isEmpty else { throw ValidationError("\(data): split '\(split)' has no videos") }
        var modality = Modality.rgb
        if c.modality == .flow {
            guard let flow else { throw ValidationError("the checkpoint is a flow model: give --flow DIR") }
            modality = .flow(root: flow)
        }
        let sampler = ClipSampler(clip: clip, shortSide: side, mode: .test(crops: crops, clips: clips, rule: rule, cropRule: cropRule, size: size),
                                  normalisation: c.normalisation.value, modality: modality)
        let loader = ClipLoader(items: items, sampler: sampler, batchSize: batch, workers: 2, seed: c.seed, shuffle: false)
        Parallel.threads = threads
        var ids: [String] = [], labels: [Int?] = [], logits: [Float] = []
        var failed: [String] = []
        let bar = ProgressBar(total: items.count, label: "videos")
        var done = 0
        let start = Date()
        try BLAS.withThreads(threads) {
            try Autograd.withoutGradients {
                for b in loader.batches(epoch: 0) {
                    failed += b.failures.map { "\($0.id): \($0.reason)" }
                    done += b.indices.count + b.failures.count
                    bar.update(done)
                    guard !b.indices.isEmpty else { continue }
                    let n = b.indices.count, v = crops * clips
                    let out = model(Tensor(shape: [n * v] + Array(b.shape[2...]), data: b.data))
                    let k = out.shape[1]
                    guard k == c.classes else { throw ValidationError("the model gives \(k) classes, expected \(c.classes)") }
                    // The loader's views are clip-major (clip outer, crop inner); scores are crop-major.
                    for i in 0..<n {
                        let item = items[b.indices[i]]
                        ids.append(item.id); labels.append(item.label)
                        for s in 0..<crops { for t in 0..<clips {
                            let row = (i * v + t * crops + s) * k
                            logits += out.data[row..<(row + k)]
                        } }
                    }
                }
            }
        }
        let seconds = Date().timeIntervalSince(start)
        for f in failed { note("left out: \(f)") }
        guard !ids.isEmpty else { throw ValidationError("no video of split '\(split)' could be read") }
        let meta: [String: String] = [
            "model": c.model, "modality": c.modality.rawValue, "clip": c.clip, "crop_rule": cropRule.rawValue,
            "sampling_rule": rule.rawValue, "split": split, "score_kind": "logits", "checkpoint": checkpoint,
            "configuration_hash": c.hash, "width": String(c.width), "crop": String(size), "short_side": String(side),
            "seconds": String(format: "%.3f", seconds), "commit": ckpt.commit,
        ]
        let scores = try ScoresFile(videoIDs: ids, labels: labels, classNames: dataset.classes, spatialCrops: crops, temporalClips: clips,
                                    logits: logits, metadata: meta, source: out)
        try scores.write(to: out)
        let summary = TestSummary(videos: ids.count, failed: failed.count, views: crops * clips, seconds: seconds,
                                  videosPerSecond: Double(ids.count) / max(seconds, 1e-9), out: out)
        if json { print(try encodeJSON(summary, pretty: false)) } else {
            note(String(format: "wrote %@: %d videos x %d views in %.1f s (%.2f videos/s)%@", out, ids.count, crops * clips, seconds,
                        summary.videosPerSecond, failed.isEmpty ? "" : "; \(failed.count) left out"))
        }
    }
}

struct TestSummary: Encodable { var videos: Int, failed: Int, views: Int, seconds: Double, videosPerSecond: Double, out: String }
