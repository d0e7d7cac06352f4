/// A published number, such as a row of the report's Table 1.
public struct ReferenceResult: Codable, Equatable, Sendable {
    public var source: String
    public var tableRow: Int
    public var model: String
    public var modality: String
    public var pretraining: String
    public var resolution: Int
    public var frames: Int
    public var skip: Int
    public var spatialCrops: Int
    public var temporalClips: Int
    public var split: String
    public var metric: String
    public var unit: String
    public var value: Double

    public init(source: String, tableRow: Int, model: String, modality: String, pretraining: String,
                resolution: Int, frames: Int, skip: Int, spatialCrops: Int, temporalClips: Int,
                split: String, metric: String, unit: String, value: Double) {
        self.source = source; self.tableRow = tableRow; self.model = model; self.modality = modality
        self.pretraining = pretraining; self.resolution = resolution; self.frames = frames
        self.skip = skip; self.spatialCrops = spatialCrops; self.temporalClips = temporalClips
        self.split = split; self.metric = metric; self.unit = unit; self.value = value
    }

    /// "16x2" (frames x skip), as mmaction2 names clips.
    public var clip: String { "\(frames)x\(skip)" }
    /// "3x10" (spatial crops x temporal clips).
    public var views: String { "\(spatialCrops)x\(temporalClips)" }
}

public enum RunStatus: String, Codable, Sendable {
    case running, finished, failed
}

/// Who, where and how a run was started: stored with every run so each number can be traced.
public struct RunProvenance: Codable, Equatable, Sendable {
    public var gitCommit: String?
    public var gitDirty: Bool?
    public var host: String
    public var pid: Int
    public var cpu: String
    public var blas: String
    public var blasThreads: Int
    public var swiftVersion: String
    public var commandLine: String

    public init(gitCommit: String?, gitDirty: Bool?, host: String, pid: Int, cpu: String,
                blas: String, blasThreads: Int, swiftVersion: String, commandLine: String) {
        self.gitCommit = gitCommit; self.gitDirty = gitDirty; self.host = host; self.pid = pid
        self.cpu = cpu; self.blas = blas; self.blasThreads = blasThreads
        self.swiftVersion = swiftVersion; self.commandLine = commandLine
    }
}

public struct RunRecord: Codable, Equatable, Sendable {
    public var id: Int64
    public var configuration: String
    public var profile: String
    public var seed: Int?
    public var status: RunStatus
    public var startedAt: String
    public var endedAt: String?
    public var provenance: RunProvenance
    public var message: String?

    /// `running` is shown as `interrupted` when the process that started it, on this host, is gone.
    public var displayStatus: String
}

/// One accuracy figure of a run, under one view scheme and sampling rule.
public struct MetricRecord: Codable, Equatable, Sendable {
    public var runID: Int64?
    public var split: String
    public var spatialCrops: Int
    public var temporalClips: Int
    public var samplingRule: String
    public var aggregation: String
    public var metric: String
    public var variant: String
    /// nil: undefined (for example a class without videos makes the official mean undefined).
    public var value: Double?

    public init(runID: Int64? = nil, split: String, spatialCrops: Int, temporalClips: Int,
                samplingRule: String, aggregation: String = "", metric: String, variant: String = "",
                value: Double?) {
        self.runID = runID; self.split = split; self.spatialCrops = spatialCrops
        self.temporalClips = temporalClips; self.samplingRule = samplingRule
        self.aggregation = aggregation; self.metric = metric; self.variant = variant; self.value = value
    }
}

/// Speed and cost of a model under one input shape.
public struct PerformanceRecord: Codable, Equatable, Sendable {
    public var runID: Int64?
    public var model: String
    public var mode: String
    public var inputShape: String
    public var batch: Int
    public var gmacsPerView: Double?
    public var parameters: Int?
    public var clipsPerSecond: Double?
    public var latencySeconds: Double?
    public var peakRSSBytes: Int?
    public var threads: Int?
    /// Channel-width multiplier (nil: 1, the paper's network).
    public var width: Double?
    /// Which size of a configuration this measures: "paper" or a scaled profile's name.
    public var scale: String?

    public init(runID: Int64? = nil, model: String, mode: String = "inference", inputShape: String,
                batch: Int = 1, gmacsPerView: Double? = nil, parameters: Int? = nil,
                clipsPerSecond: Double? = nil, latencySeconds: Double? = nil,
                peakRSSBytes: Int? = nil, threads: Int? = nil, width: Double? = nil, scale: String? = nil) {
        self.runID = runID; self.model = model; self.mode = mode; self.inputShape = inputShape
        self.batch = batch; self.gmacsPerView = gmacsPerView; self.parameters = parameters
        self.clipsPerSecond = clipsPerSecond; self.latencySeconds = latencySeconds
        self.peakRSSBytes = peakRSSBytes; self.threads = threads; self.width = width; self.scale = scale
    }
}

/// A micro-benchmark figure, with its ratio to a baseline measured in the same run.
public struct BenchmarkRecord: Codable, Equatable, Sendable {
    public var runID: Int64?
    public var name: String
    public var threads: Int?
    public var value: Double
    public var unit: String
    public var baseline: String?
    public var ratio: Double?

    public init(runID: Int64? = nil, name: String, threads: Int?, value: Double, unit: String,
                baseline: String? = nil, ratio: Double? = nil) {
        self.runID = runID; self.name = name; self.threads = threads; self.value = value
        self.unit = unit; self.baseline = baseline; self.ratio = ratio
    }
}

/// One epoch of a training curve: the stage's training loss and rate, and validation when it ran.
public struct EpochCurveRecord: Codable, Equatable, Sendable {
    public var runID: Int64?
    public var stage: String
    public var epoch: Int
    public var step: Int
    public var trainLoss: Double?
    public var lr: Double?
    public var clipsPerSecond: Double?
    public var seconds: Double?
    public var valTop1: Double?
    public var valTop5: Double?
    public var valLoss: Double?

    public init(runID: Int64? = nil, stage: String, epoch: Int, step: Int, trainLoss: Double?, lr: Double?,
                clipsPerSecond: Double?, seconds: Double?, valTop1: Double? = nil, valTop5: Double? = nil, valLoss: Double? = nil) {
        self.runID = runID; self.stage = stage; self.epoch = epoch; self.step = step; self.trainLoss = trainLoss; self.lr = lr
        self.clipsPerSecond = clipsPerSecond; self.seconds = seconds; self.valTop1 = valTop1; self.valTop5 = valTop5
        self.valLoss = valLoss
    }
}

/// A file a run produced (plot, its data and script, checkpoint, scores), with its digest.
public struct ArtifactRecord: Codable, Equatable, Sendable {
    public var runID: Int64?
    public var path: String
    public var kind: String
    public var sha256: String

    public init(runID: Int64?, path: String, kind: String, sha256: String) {
        self.runID = runID; self.path = path; self.kind = kind; self.sha256 = sha256
    }
}
