import Data
import Engine
import Evaluation
import Foundation
import Models
import Training

/// Per-view logits of a trained checkpoint on one split: what `vipbench test` writes and the
/// runner evaluates.
public enum Scoring {
    public struct Request: Sendable {
        public var checkpoint: String
        public var split: String
        public var crops: Int
        public var clips: Int
        public var rule: TestSamplingRule
        public var cropRule: CropRule
        public var shortSide: Int?
        public var crop: Int?
        public var flowRoot: String?
        public var batch = 4
        public var threads = 2

        public init(checkpoint: String, split: String, crops: Int, clips: Int, rule: TestSamplingRule, cropRule: CropRule,
                    shortSide: Int? = nil, crop: Int? = nil, flowRoot: String? = nil) {
            self.checkpoint = checkpoint; self.split = split; self.crops = crops; self.clips = clips; self.rule = rule
            self.cropRule = cropRule; self.shortSide = shortSide; self.crop = crop; self.flowRoot = flowRoot
        }
    }

    public struct Result: Sendable {
        public var scores: ScoresFile
        public var failures: [String]
        public var seconds: Double
    }

    /// Views are crop-major in the file (N x crops x clips x classes), as the Evaluation module reads them.
    ///
    /// With several processes (`world`), each scores every `size`-th video and the first writes the
    /// one file, in the split's order: the file one process writes, but for its `seconds`.
    public static func run(_ q: Request, dataset: VideoDataset, output: String, world: Collective = SingleProcess(),
                           progress: (Int, Int) -> Void = { _, _ in }) throws -> Result {
        let ckpt = try TrainingCheckpoint(contentsOf: q.checkpoint)
        let c = ckpt.configuration
        guard c.objective == .supervised else { throw TrainingError.configuration("\(q.checkpoint) is a \(c.objective.rawValue) pretraining checkpoint, not a classifier") }
        let size = q.crop ?? c.crop, side = q.shortSide ?? c.shortSide
        guard size <= side else { throw TrainingError.configuration("crop \(size) is larger than the short side \(side)") }
        guard case .classifier(let model) = try TrainingSetup.network(c) else { throw TrainingError.configuration("not a classifier") }
        try ckpt.restore(into: model, path: q.checkpoint)
        model.eval()
        guard dataset.classes.count == c.classes else {
            throw TrainingError.data("\(dataset.root) has \(dataset.classes.count) classes; the checkpoint's model has \(c.classes)")
        }
        let everyItem = dataset.items(split: q.split).filter { !dataset.knownCorrupt.contains($0.id) }
        guard !everyItem.isEmpty else { throw TrainingError.data("\(dataset.root): split '\(q.split)' has no videos") }
        let items = everyItem.enumerated().filter { $0.offset % world.size == world.rank }.map(\.element)
        let modality = try TrainingSetup.modality(c, flowRoot: q.flowRoot)
        let sampler = ClipSampler(clip: c.clipSpec!, shortSide: side,
                                  mode: .test(crops: q.crops, clips: q.clips, rule: q.rule, cropRule: q.cropRule, size: size),
                                  normalisation: c.normalisation.value, modality: modality)
        // No frame cache (each video is read once); each video decodes once, up to the last frame a view uses.
        let index = TrainingSetup.frameIndex(modality, dataset: dataset)
        if world.size > 1 {
            // Each process indexes its own videos; the first alone writes the index file.
            DataParallel.shareFrameIndex(index, paths: everyItem.map { TrainingSetup.indexedPath(of: $0, modality) }, over: world, jobs: 2)
        }
        let loader = ClipLoader(items: items, sampler: sampler, batchSize: q.batch, workers: 2, seed: c.seed, shuffle: false,
                                frameIndex: index)
        var ids: [String] = [], labels: [Int?] = [], logits: [Float] = [], failed: [String] = []
        var done = 0
        let start = Date()
        // A fast-mode model is tested in the fast mode it was trained in (its configuration says so).
        ConvolutionBackend.with(c.convolutionBackend) { Parallel.withThreads(q.threads) {
            Autograd.withoutGradients {
                for b in loader.batches(epoch: 0) {
                    failed += b.failures.map { "\($0.id): \($0.reason)" }
                    done += b.indices.count + b.failures.count
                    progress(done, items.count)
                    guard !b.indices.isEmpty else { continue }
                    let n = b.indices.count, v = q.crops * q.clips
                    let out = model(Tensor(shape: [n * v] + Array(b.shape[2...]), data: b.data))
                    let k = out.shape[1]
                    // The loader's views are clip-major (clip outer, crop inner).
                    for i in 0..<n {
                        let item = items[b.indices[i]]
                        ids.append(item.id); labels.append(item.label)
                        for s in 0..<q.crops { for t in 0..<q.clips {
                            let row = (i * v + t * q.crops + s) * k
                            logits += out.data[row..<(row + k)]
                        } }
                    }
                }
            }
        } }
        if world.size > 1 {
            // Every process's videos, back in the split's order.
            struct Part: Codable { var ids: [String]; var labels: [Int?]; var failed: [String] }
            let k = dataset.classes.count * q.crops * q.clips
            let parts = world.allGather(text: String(decoding: try JSONEncoder().encode(Part(ids: ids, labels: labels, failed: failed)), as: UTF8.self))
            let allLogits = world.allGather(logits)
            var rows: [String: (Int?, ArraySlice<Float>)] = [:]
            var offset = 0
            failed = []
            for text in parts {
                let part = try JSONDecoder().decode(Part.self, from: Data(text.utf8))
                for (id, label) in zip(part.ids, part.labels) {
                    rows[id] = (label, allLogits[offset..<(offset + k)])
                    offset += k
                }
                failed += part.failed
            }
            ids = []; labels = []; logits = []
            for item in everyItem { if let (label, row) = rows[item.id] { ids.append(item.id); labels.append(label); logits += row } }
        }
        let seconds = Date().timeIntervalSince(start)
        guard !ids.isEmpty else { throw TrainingError.data("no video of split '\(q.split)' could be read") }
        let meta: [String: String] = [
            "model": c.model.rawValue, "modality": c.modality.rawValue, "clip": c.clip, "crop_rule": q.cropRule.rawValue,
            "sampling_rule": q.rule.rawValue, "split": q.split, "score_kind": "logits", "checkpoint": q.checkpoint,
            "configuration_hash": c.hash, "width": String(c.width), "crop": String(size), "short_side": String(side),
            "seconds": String(format: "%.3f", seconds), "commit": ckpt.commit, "seed": String(c.seed),
        ]
        let scores = try ScoresFile(videoIDs: ids, labels: labels, classNames: dataset.classes, spatialCrops: q.crops,
                                    temporalClips: q.clips, logits: logits, metadata: meta, source: output)
        if world.rank == 0 { try scores.write(to: output) }
        return Result(scores: scores, failures: failed, seconds: seconds)
    }
}
