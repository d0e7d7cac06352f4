import Engine
import Foundation
import Models
import Training

/// The stages of one row, in order, with what each costs.
public struct StagePlan: Codable, Sendable {
    public enum Kind: String, Codable, Sendable { case flow, pretrain, train, test }
    public var row: Table1Row
    public var kind: Kind
    /// The network this stage runs; nil for the flow extraction (TV-L1, no network).
    public var model: Architecture?
    /// C x T x H x W of one clip.
    public var input: [Int]
    public var gmacsPerClip: Double
    /// Clips this stage runs through the network (training clips count forward and backward).
    public var clips: Double
    public var training: Bool
    /// What the count rests on, when it is an assumption rather than a count.
    public var note: String?

    /// What runs the stage, as printed: the network's name, or TV-L1 for the flow extraction.
    public var worker: String { model?.rawValue ?? "tv-l1" }
}

/// Measured seconds per clip for a (model, input, width, training) — from the results store or a
/// measurement made now; the plan says which.
public struct Throughput: Codable, Sendable {
    public var secondsPerClip: Double
    public var source: String
    public init(secondsPerClip: Double, source: String) { self.secondsPerClip = secondsPerClip; self.source = source }
}

public enum Planner {
    /// How the flow rows' input is extracted: once for every row that reads flow.
    public struct FlowExtraction: Equatable, Sendable {
        /// The short side frames are resized to before TV-L1; nil keeps the videos' own size.
        public var shortSide: Int?
        public init(shortSide: Int?) { self.shortSide = shortSide }
    }

    /// The flow extraction `configs` need, or nil when no row reads flow. Scaled profiles extract
    /// at the short side the flow rows decode at (as the paper's flow is extracted at its decoding
    /// size): a quarter of the pixels of the embedded 128x96 videos, and about 4x faster. The
    /// paper's rows decode at 256 and 128, so the paper profile keeps the videos' own size.
    public static func flowExtraction(_ configs: [RowConfiguration]) -> FlowExtraction? {
        let flowRows = configs.filter { $0.training.modality == .flow }
        guard !flowRows.isEmpty else { return nil }
        return FlowExtraction(shortSide: flowRows.contains { $0.profile == .paper } ? nil : flowRows.map(\.training.shortSide).max())
    }

    /// Every stage of every row, in order, with the stages rows share counted once: one flow
    /// extraction serves every flow row, and a TCLR pretraining runs once for every row whose
    /// pretraining configuration is the same (the runner keeps it under that configuration's hash).
    /// A shared stage's repeats cost no clips and say which row runs it.
    public static func stages(_ configs: [RowConfiguration], trainVideos: Int, valVideos: Int, testVideos: Int)
        -> [(config: RowConfiguration, stage: StagePlan)] {
        var runBy: [String: Table1Row] = [:]   // a shared stage's key -> the row that runs it
        var out: [(config: RowConfiguration, stage: StagePlan)] = []
        for c in configs {
            for var s in stages(c, trainVideos: trainVideos, valVideos: valVideos, testVideos: testVideos) {
                let key: String? = s.kind == .flow ? "flow" : s.kind == .pretrain ? c.pretraining?.hash : nil
                if let key {
                    if let first = runBy[key] {
                        s.clips = 0
                        s.note = s.kind == .flow ? "shared with row \(first.rawValue): extracted once"
                            : "shared with row \(first.rawValue) (the same configuration): run once"
                    } else {
                        runBy[key] = c.row
                    }
                }
                out.append((c, s))
            }
        }
        return out
    }

    /// Every stage of `config` for `trainVideos` / `valVideos` videos (the test split is scored like val).
    public static func stages(_ config: RowConfiguration, trainVideos: Int, valVideos: Int, testVideos: Int) -> [StagePlan] {
        var out: [StagePlan] = []
        let t = config.training
        let clip = t.clipSpec!
        if t.modality == .flow {
            // Flow stage: TV-L1 per frame pair; its cost is in pairs, not network clips.
            out.append(StagePlan(row: config.row, kind: .flow, model: nil, input: [], gmacsPerClip: 0,
                                 clips: Double(trainVideos + valVideos + testVideos) * 300, training: false,
                                 note: "frame pairs, assuming 300 frames a video (10 s at 30 fps, Kinetics' clip length)"))
        }
        if let pre = config.pretraining {
            let c = pre.clipSpec!
            let input = [pre.modality.channels, c.frames, pre.crop, pre.crop]
            out.append(StagePlan(row: config.row, kind: .pretrain, model: pre.model, input: input,
                                 gmacsPerClip: gmacs(pre.model, input: input, width: pre.width, classes: 1),
                                 clips: Double(trainVideos * pre.epochs * 2 * (1 + pre.tclrLocalClips)), training: true, note: nil))
        }
        let input = [t.modality.channels, clip.frames, t.crop, t.crop]
        out.append(StagePlan(row: config.row, kind: .train, model: t.model, input: input,
                             gmacsPerClip: gmacs(t.model, input: input, width: t.width, classes: t.classes),
                             clips: Double(trainVideos * t.epochs * t.augmentedCopies), training: true,
                             note: t.schedule.shape.isPlateau ? "at most: the plateau rule may stop earlier" : nil))
        let testInput = [t.modality.channels, clip.frames, config.test.crop, config.test.crop]
        out.append(StagePlan(row: config.row, kind: .test, model: t.model, input: testInput,
                             gmacsPerClip: gmacsPerTestView(config),
                             clips: Double((valVideos + testVideos) * config.test.spatialCrops * config.test.temporalClips),
                             training: false, note: nil))
        return out
    }

    /// GMACs of one test view of a row (its test crop at its clip).
    public static func gmacsPerTestView(_ c: RowConfiguration) -> Double {
        let t = c.training
        return gmacs(t.model, input: [t.modality.channels, t.clipSpec!.frames, c.test.crop, c.test.crop], width: t.width, classes: t.classes)
    }

    static func gmacs(_ model: Architecture, input: [Int], width: Double, classes: Int) -> Double {
        var g = SeededGenerator(seed: 0)
        let m = ModelZoo.make(model, inputChannels: input[0], classes: classes, width: width,
                              clip: Array(input.dropFirst()), generator: &g)
        return Double(ModelZoo.cost(m, input: input).macs) / 1e9
    }
}

extension LearningRateSchedule.Shape {
    var isPlateau: Bool { if case .plateau = self { return true }; return false }
}
