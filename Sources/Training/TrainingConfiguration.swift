import Data
import Engine
import Foundation
import Models

/// Everything that decides a training run's result, as one value: printed at the start, stored
/// in every checkpoint (its hash guards `--resume`) and beside every recorded result.
public struct TrainingConfiguration: Codable, Hashable, Sendable, ResolvedConfiguration {
    public enum Objective: String, Codable, Sendable, CaseIterable {
        /// Labels and cross-entropy (with label smoothing, or mixing when `mix` is set).
        case supervised
        /// TCLR's four contrastive losses; no label is read.
        case tclr
    }

    public enum InputModality: String, Codable, Sendable, CaseIterable {
        case rgb, flow
        public var channels: Int { self == .rgb ? 3 : 2 }
    }

    /// The training crop: a random square of `crop` after resizing the short side (the scaled
    /// profiles), torchvision's random resized crop, or TCLR's random square of U(0.6, 1) x short side.
    public enum CropKind: String, Codable, Sendable, CaseIterable {
        case random
        case randomResized = "random-resized"
        case tclr
    }

    public enum InputNormalisation: String, Codable, Sendable, CaseIterable {
        /// [0, 1] (TCLR; flow as stored in [-1, 1]).
        case unit
        /// (x - 0.45) / 0.225 on every channel (SlowFast's, the scaled profiles').
        case slowfast
        /// Kinetics mean and std (torchvision's video models).
        case kinetics

        public var value: Normalisation {
            switch self {
            case .unit: return .unit
            case .slowfast: return .meanStd(mean: [0.45, 0.45, 0.45], std: [0.225, 0.225, 0.225])
            case .kinetics: return .kinetics
            }
        }
    }

    public var objective: Objective = .supervised
    public var model: Architecture
    public var modality: InputModality = .rgb
    public var width: Double = 1
    /// MViT only: CaiT's LayerScale on every block's two branches, starting at this value (not
    /// MViT-B's; nil, the default, is the reference architecture and leaves the hash unchanged).
    public var layerScale: Float?
    public var classes: Int
    public var clip: String = "16x2"
    public var shortSide: Int = 128
    public var crop: Int = 112
    public var cropKind: CropKind = .random
    public var flipProbability: Double = 0.5
    public var normalisation: InputNormalisation = .unit
    /// RandAugment drawn once per clip (the MViT recipe's rand-m7-n4-mstd0.5-inc1).
    public var randAugment: RandAugmentConfig?
    /// Random erasing probability (one zero-valued box per clip; TCLR's 0.2 by default in its crop kind).
    public var erasingProbability: Double?
    /// Repeated augmentation: augmented copies of each decoded clip (SlowFast's NUM_SAMPLE).
    public var augmentedCopies: Int = 1
    public var epochs: Int
    /// The optimiser's batch (clips per step, before copies); split into `accumulate` micro-batches.
    public var batch: Int
    public var accumulate: Int = 1
    public var optimizer: OptimizerRule
    public var parameterGroups: ParameterGroups
    public var schedule: LearningRateSchedule
    public var gradientClipNorm: Double?
    public var labelSmoothing: Double = 0
    public var mix: MixConfig?
    /// Dropout before the classifier / stochastic depth overrides, where the model has them.
    public var seed: UInt64 = 0
    public var threads: Int = 2
    /// Validate every this many epochs (and after the last); 0 never.
    public var validateEvery: Int = 1
    /// Write `latest` every this many steps too (besides every epoch's end); 0 only at epoch ends.
    public var checkpointEverySteps: Int = 0
    /// TCLR: local clips per video and the contrastive temperature.
    public var tclrLocalClips: Int = 4
    public var tclrTemperature: Double = 0.1
    /// Data-parallel training (several processes under mpirun): batch-norm statistics over the
    /// whole batch of every process (true), or each process's own part (nil, PyTorch DDP's default).
    /// One process trains the same either way. Left out of the JSON when nil, so older
    /// configurations keep their hashes.
    public var syncBatchNorm: Bool?
    /// The fast mode: convolutions multiply in BF16 (oneDNN; sums stay FP32), on CPUs with BF16
    /// kernels (elsewhere they run in FP32 and the recorded library summary says so). nil: exact
    /// FP32. Left out of the JSON when nil, so exact configurations keep their hashes.
    public var bf16Convolutions: Bool?

    /// The convolution backend this configuration trains and tests with: the fast mode's, or the
    /// process's exact one (`VIPBENCH_CONVOLUTION=gemm` selects the reference lowering; both exact
    /// backends give the same results up to float summation order, so neither is in the hash).
    public var convolutionBackend: ConvolutionBackend {
        if bf16Convolutions == true { return .onednnBF16 }
        return ConvolutionBackend.exact.contains(ConvolutionBackend.current) ? ConvolutionBackend.current : .onednn
    }

    public init(model: Architecture, classes: Int, epochs: Int, batch: Int, optimizer: OptimizerRule,
                parameterGroups: ParameterGroups, schedule: LearningRateSchedule) {
        self.model = model; self.classes = classes; self.epochs = epochs; self.batch = batch
        self.optimizer = optimizer; self.parameterGroups = parameterGroups; self.schedule = schedule
    }

    /// The clip as frames x skip.
    public var clipSpec: ClipSpec? { ClipSpec(clip) }

    /// The settings that differ between two configurations (top-level JSON keys), for the
    /// `--resume` refusal.
    public func differences(from other: TrainingConfiguration) -> [String] {
        func fields(_ c: TrainingConfiguration) -> [String: String] {
            let e = JSONEncoder()
            e.outputFormatting = [.sortedKeys]
            let obj = try! JSONSerialization.jsonObject(with: e.encode(c)) as! [String: Any]
            var out: [String: String] = [:]
            for (k, v) in obj {
                let d = try! JSONSerialization.data(withJSONObject: ["v": v], options: [.sortedKeys, .fragmentsAllowed])
                out[k] = String(decoding: d, as: UTF8.self)
            }
            return out
        }
        let (a, b) = (fields(self), fields(other))
        return Set(a.keys).union(b.keys).sorted().filter { a[$0] != b[$0] }.map { key in
            "\(key): \(Self.shortValue(b[key])) in the checkpoint, \(Self.shortValue(a[key])) now"
        }
    }

    static func shortValue(_ s: String?) -> String {
        guard var s else { return "absent" }
        if s.hasPrefix("{\"v\":") { s = String(s.dropFirst(5).dropLast()) }
        return s.count > 80 ? String(s.prefix(77)) + "..." : s
    }

    /// Checks what the types cannot: positive sizes, a parsable clip, a batch the micro-batches divide.
    public func validate() throws {
        func fail(_ m: String) -> TrainingError { TrainingError.configuration(m) }
        guard clipSpec != nil else { throw fail("clip '\(clip)' is not FRAMESxSKIP (for example 16x2)") }
        guard epochs >= 1 else { throw fail("epochs must be at least 1") }
        guard batch >= 1, accumulate >= 1, batch % accumulate == 0 else {
            throw fail("batch \(batch) must be a positive multiple of accumulate \(accumulate)")
        }
        guard crop >= 1, shortSide >= crop else { throw fail("crop \(crop) must be at most the short side \(shortSide)") }
        guard width > 0, classes >= 1, augmentedCopies >= 1, threads >= 1 else {
            throw fail("width, classes, copies and threads must be positive")
        }
        if let layerScale {
            guard model == .mvitB else { throw fail("layer scale applies to mvit-b's blocks only, not '\(model.rawValue)'") }
            guard layerScale > 0, layerScale.isFinite else { throw fail("layer scale \(layerScale) must be a positive number") }
        }
        if objective == .tclr {
            guard TCLRNetwork.backbones.contains(model) else {
                throw fail("TCLR pretrains \(TCLRNetwork.backbones.map(\.rawValue).joined(separator: " or ")), not '\(model)'")
            }
            guard batch >= 2 else { throw fail("TCLR's contrastive losses need a batch of at least 2 videos") }
            // The TCLR backbone keeps time / 4 steps; global step j is matched with local clip j.
            // Local clips of `frames` consecutive frames tile the global clip's span when skip = frames / 4 (16x4).
            guard let c = clipSpec, c.frames % 4 == 0, c.skip == c.frames / 4 else {
                throw fail("TCLR's local clips tile the global clip only when skip = frames / 4 (16x4, 8x2): clip '\(clip)' does not")
            }
            guard c.frames / 4 == tclrLocalClips else {
                throw fail("TCLR matches each of the global clip's frames / 4 time steps with a local clip: clip '\(clip)' needs \((clipSpec?.frames ?? 0) / 4) local clips, not \(tclrLocalClips)")
            }
            guard accumulate == 1 else { throw fail("TCLR's contrastive batch cannot be split into micro-batches (--accumulate 1)") }
        }
    }

    /// The training augmentation this configuration asks for.
    public var augmentation: AugmentationConfig {
        var a = baseAugmentation
        if modality == .rgb { a.randAugment = randAugment }
        if let erasingProbability { a.erasingProbability = erasingProbability }
        return a
    }

    var baseAugmentation: AugmentationConfig {
        switch cropKind {
        case .random:
            return AugmentationConfig(outputSize: crop, crop: .randomFixed(size: crop), flipProbability: flipProbability)
        case .randomResized:
            var a = AugmentationConfig.supervised(size: crop)
            a.flipProbability = flipProbability
            return a
        case .tclr:
            var a = AugmentationConfig.tclr(size: crop)
            a.flipProbability = flipProbability
            if modality == .flow {
                a.jitterProbability = 0; a.grayscaleProbability = 0; a.channelDropProbability = 0
            }
            return a
        }
    }
}

public enum TrainingError: Error, CustomStringConvertible, Equatable {
    case configuration(String)
    case nonFinite(epoch: Int, step: Int, loss: Float, checkpoint: String?)
    case checkpoint(path: String, message: String)
    case data(String)

    public var description: String {
        switch self {
        case .configuration(let m): return "configuration: \(m)"
        case .nonFinite(let e, let s, let l, let c):
            return "loss is \(l) at epoch \(e), step \(s): training stopped"
                + (c.map { "; the last good checkpoint is \($0)" } ?? "; no checkpoint was written yet")
        case .checkpoint(let p, let m): return "\(p): \(m)"
        case .data(let m): return m
        }
    }
}

/// A configuration printed and stored as sorted JSON, identified by a hash of that JSON.
public protocol ResolvedConfiguration: Encodable {}

extension ResolvedConfiguration {
    /// Sorted, pretty JSON (what is printed and stored).
    public var json: String {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .prettyPrinted]
        return String(decoding: try! e.encode(self), as: UTF8.self)
    }

    /// FNV-1a of the compact sorted JSON, as 16 hex digits: identifies every result it produced.
    public var hash: String {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in try! e.encode(self) { h = (h ^ UInt64(b)) &* 0x100_0000_01B3 }
        return String(format: "%016llx", h)
    }
}
