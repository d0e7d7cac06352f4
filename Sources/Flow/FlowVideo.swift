import Foundation
import Media

/// A video's flow on disk: `<name>.mkv`, FFV1 in Matroska, one 8-bit grey frame per frame pair
/// with the quantised x component above the y component (W x 2H), and `<name>.json` beside it
/// (`FlowVideo.Record`) naming the source, preset, parameters and bound. The record is written
/// last, so a video without one is incomplete.
public enum FlowVideo {
    public static let format = "vipbench-flow-1"

    public struct Record: Codable, Equatable, Sendable {
        public var format: String = FlowVideo.format
        public var source: String
        /// Frames decoded from the source; the flow has one fewer.
        public var sourceFrames: Int
        public var flowFrames: Int
        public var width: Int
        public var height: Int
        public var preset: String
        public var parameters: TVL1Parameters
        public var bound: Float
        public var shortSide: Int?
        /// Bytes of the .mkv, checked on resume.
        public var bytes: Int
        public var layout: String = "x above y, 8-bit grey, q = round(255 (c + bound) / (2 bound))"
        public var decodeWarnings: [String] = []
    }

    /// Where a video's flow lives in an extraction folder: `<root>/<split>/<videoid>` (+ .mkv, .json).
    public static func base(root: String, split: String, id: String) -> String { "\(root)/\(split)/\(id)" }
    public static func videoPath(_ base: String) -> String { base + ".mkv" }
    public static func recordPath(_ base: String) -> String { base + ".json" }

    /// The record of a complete flow video at `base`, or nil (missing, half-written, or its
    /// .mkv does not have the recorded size).
    public static func completeRecord(_ base: String) -> Record? {
        guard let data = FileManager.default.contents(atPath: recordPath(base)),
              let record = try? JSONDecoder().decode(Record.self, from: data), record.format == format,
              let attrs = try? FileManager.default.attributesOfItem(atPath: videoPath(base)),
              (attrs[.size] as? NSNumber)?.intValue == record.bytes else { return nil }
        return record
    }

    /// A writer for a flow video's frames (x above y, W x 2H grey), tagged with its source.
    static func writer(path: String, width: Int, height: Int, frameRate: Fraction, source: String, preset: String,
                       bound: Float) throws -> VideoWriter {
        try VideoWriter(path: path, width: width, height: 2 * height, frameRate: frameRate, codec: .ffv1, input: .gray8,
                        metadata: ["vipbench_flow": format, "source": source, "preset": preset, "bound": "\(bound)"])
    }

    /// Moves the finished `partial` .mkv into place, then writes the record (with its size).
    static func complete(base: String, partial: String, record: Record) throws {
        let fm = FileManager.default
        try? fm.removeItem(atPath: videoPath(base))
        try fm.moveItem(atPath: partial, toPath: videoPath(base))
        var r = record
        r.bytes = ((try fm.attributesOfItem(atPath: videoPath(base)))[.size] as? NSNumber)?.intValue ?? 0
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try encoder.encode(r).write(to: URL(fileURLWithPath: recordPath(base)), options: .atomic)
    }

    /// Writes quantised frames and then the record (tests and small tools; extraction streams).
    static func write(base: String, frames: [(x: [UInt8], y: [UInt8])], width: Int, height: Int,
                      frameRate: Fraction, record: Record) throws {
        let partial = videoPath(base) + ".partial"
        let w = try writer(path: partial, width: width, height: height, frameRate: frameRate, source: record.source,
                           preset: record.preset, bound: record.bound)
        for f in frames { try w.write(f.x + f.y) }
        try w.finish()
        try complete(base: base, partial: partial, record: record)
    }

    /// The record beside a flow video.
    public static func record(base: String) throws -> Record {
        guard let data = FileManager.default.contents(atPath: recordPath(base)) else {
            throw FlowError(path: recordPath(base), message: "no flow record (extraction incomplete?)")
        }
        do { return try JSONDecoder().decode(Record.self, from: data) } catch {
            throw FlowError(path: recordPath(base), message: "not a flow record: \(error)")
        }
    }

    /// The x and y planes of one decoded flow frame (grey, x above y).
    static func planes(_ f: RGBFrame, record: Record, base: String) throws -> (x: [UInt8], y: [UInt8]) {
        let (w, h) = (record.width, record.height)
        guard f.width == w && f.height == 2 * h else {
            throw FlowError(path: videoPath(base), message: "frame \(f.index) is \(f.width)x\(f.height), the record says \(w)x\(2 * h)")
        }
        var x = [UInt8](repeating: 0, count: w * h), y = x
        for i in 0..<(w * h) { x[i] = f.pixels[3 * i]; y[i] = f.pixels[3 * (w * h + i)] }
        return (x, y)
    }

    /// The quantised frames of a flow video (x and y planes, each width x height).
    public static func read(base: String) throws -> (record: Record, frames: [(x: [UInt8], y: [UInt8])]) {
        let record = try record(base: base)
        let reader = try VideoReader(path: videoPath(base))
        var frames: [(x: [UInt8], y: [UInt8])] = []
        try reader.decode { f in
            frames.append(try planes(f, record: record, base: base))
            return true
        }
        guard frames.count == record.flowFrames else {
            throw FlowError(path: videoPath(base), message: "\(frames.count) frames decoded, the record says \(record.flowFrames)")
        }
        return (record, frames)
    }

    /// The flow frames at `wanted` (ascending, each once), decoding the FFV1 file only from the
    /// keyframe before the first (with `table`, from `FrameIndex`) to the last; the same planes as
    /// `read(base:)` gives for those frames.
    public static func read(base: String, frames wanted: [Int], table: FrameTable?) throws -> (record: Record, frames: [Int: (x: [UInt8], y: [UInt8])]) {
        let record = try record(base: base)
        if let table, table.count != record.flowFrames {
            throw FlowError(path: videoPath(base), message: "\(table.count) frames decode, the record says \(record.flowFrames)")
        }
        let reader = try VideoReader(path: videoPath(base))
        var frames: [Int: (x: [UInt8], y: [UInt8])] = [:]
        for f in try reader.frames(wanted, table: table).frames { frames[f.index] = try planes(f, record: record, base: base) }
        if let missing = wanted.first(where: { frames[$0] == nil }) {
            throw FlowError(path: videoPath(base), message: "flow frame \(missing) does not decode (the record says \(record.flowFrames) frames)")
        }
        return (record, frames)
    }
}

/// Reads a picture (PNG, PGM, PPM, JPEG, ... anything FFmpeg decodes) as grey levels.
public enum GreyImage {
    public static func read(_ path: String) throws -> Plane {
        guard FileManager.default.fileExists(atPath: path) else { throw FlowError(path: path, message: "no such file") }
        let reader = try VideoReader(path: path)
        var plane: Plane?
        try reader.decode { f in
            plane = Plane.luma(rgb: f.pixels, width: f.width, height: f.height)
            return false
        }
        guard let plane else { throw FlowError(path: path, message: "no picture could be decoded") }
        return plane
    }
}
