import Dispatch
import Foundation
import Media

/// Flow for every consecutive frame pair of many videos, in parallel over videos, with resume:
/// a video whose flow is complete (record present, .mkv of the recorded size, same settings) is
/// skipped; a half-written one is redone; one that fails is reported and the rest go on.
public struct FlowExtractor {
    public struct Job: Sendable {
        public var id: String
        public var source: String
        /// Output path without extension (`.mkv` and `.json` are added).
        public var output: String
        public init(id: String, source: String, output: String) { self.id = id; self.source = source; self.output = output }
    }

    public enum Outcome: Sendable, Equatable {
        case extracted(pairs: Int, seconds: Double, warnings: [String])
        case skipped
        case failed(String)
    }

    public var parameters: TVL1Parameters
    public var preset: String
    public var shortSide: Int?
    public var quantisation = FlowQuantisation(bound: 20)
    /// Videos processed at once (each on one thread).
    public var jobs: Int = 2

    public init(parameters: TVL1Parameters, preset: String, shortSide: Int? = nil, jobs: Int = 2) {
        self.parameters = parameters; self.preset = preset; self.shortSide = shortSide; self.jobs = jobs
    }

    /// Runs every job; `progress(done, total, outcome of the one just finished)` is called as
    /// each ends (from worker threads, one at a time).
    public func run(_ work: [Job], progress: (Int, Int, Job, Outcome) -> Void = { _, _, _, _ in }) -> [Outcome] {
        var outcomes = [Outcome](repeating: .skipped, count: work.count)
        let lock = NSLock()
        var next = 0, done = 0
        DispatchQueue.concurrentPerform(iterations: max(1, min(jobs, work.count))) { _ in
            while true {
                lock.lock()
                let i = next
                next += 1
                lock.unlock()
                guard i < work.count else { return }
                let outcome = extract(work[i])
                lock.lock()
                outcomes[i] = outcome
                done += 1
                progress(done, work.count, work[i], outcome)
                lock.unlock()
            }
        }
        return outcomes
    }

    /// Is this job's output complete, with this extractor's settings?
    public func isComplete(_ job: Job) -> Bool {
        guard let r = FlowVideo.completeRecord(job.output) else { return false }
        return r.preset == preset && r.parameters == parameters && r.bound == quantisation.bound && r.shortSide == shortSide
    }

    public func extract(_ job: Job) -> Outcome {
        if isComplete(job) { return .skipped }
        let start = Date()
        do {
            let dir = (job.output as NSString).deletingLastPathComponent
            if !dir.isEmpty { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
            try? FileManager.default.removeItem(atPath: FlowVideo.recordPath(job.output))
            let reader = try VideoReader(path: job.source)
            let rate = reader.info.frameRate.value.isFinite && reader.info.frameRate.numerator > 0
                ? reader.info.frameRate : Fraction(numerator: 25, denominator: 1)
            // Streamed: each pair's flow is written as soon as its second frame decodes, so a
            // video of any length holds two frames in memory.
            let solver = TVL1(parameters)
            let partial = FlowVideo.videoPath(job.output) + ".partial"
            var writer: VideoWriter?
            var previous: Plane?
            var frames = 0
            let warnings = try reader.decode(size: shortSide.map { .shortSide($0) } ?? .native) { f in
                let grey = Plane.luma(rgb: f.pixels, width: f.width, height: f.height)
                frames += 1
                if let previous {
                    guard previous.width == grey.width && previous.height == grey.height else {
                        throw FlowError(path: job.source, message: "frame \(frames - 1) is \(grey.width)x\(grey.height), "
                                        + "the frames before it \(previous.width)x\(previous.height) (the size changes mid-stream)")
                    }
                    let q = quantisation.quantise(solver.flow(from: previous, to: grey))
                    if writer == nil {
                        writer = try FlowVideo.writer(path: partial, width: grey.width, height: grey.height, frameRate: rate,
                                                      source: job.source, preset: preset, bound: quantisation.bound)
                    }
                    try writer!.write(q.x + q.y)
                }
                previous = grey
                return true
            }
            guard let writer, let first = previous else {
                try? FileManager.default.removeItem(atPath: partial)
                return .failed("\(frames) frame(s) decoded; flow needs at least 2"
                               + (warnings.isEmpty ? "" : " (\(warnings.map(\.message).joined(separator: "; ")))"))
            }
            try writer.finish()
            let record = FlowVideo.Record(source: job.source, sourceFrames: frames, flowFrames: frames - 1,
                                          width: first.width, height: first.height, preset: preset, parameters: parameters,
                                          bound: quantisation.bound, shortSide: shortSide, bytes: 0,
                                          decodeWarnings: warnings.map(\.message))
            try FlowVideo.complete(base: job.output, partial: partial, record: record)
            return .extracted(pairs: frames - 1, seconds: Date().timeIntervalSince(start), warnings: warnings.map(\.message))
        } catch {
            try? FileManager.default.removeItem(atPath: FlowVideo.videoPath(job.output) + ".partial")
            return .failed("\(error)")
        }
    }
}
