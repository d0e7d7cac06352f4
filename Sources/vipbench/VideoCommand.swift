import ArgumentParser
import Foundation
import Media

struct VideoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "video",
        abstract: "Inspect and decode video files with FFmpeg's libraries.",
        subcommands: [Info.self, Dump.self])

    struct Info: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Codec, size after rotation, rotation, frame rate, time base, duration, colour range and matrix, decoded frame count, streams.",
            discussion: "The frame count is what actually decodes (the whole stream is decoded); the header's claim is shown beside it.")

        @Argument(help: ArgumentHelp("The video file.", valueName: "file"))
        var file: String

        @Option(help: "Which video stream (0 = the first).")
        var stream: Int = 0

        @Flag(help: "Print JSON.")
        var json = false

        func run() throws {
            let reader = try VideoReader(path: file, videoStream: stream)
            let (count, warnings) = try reader.countFrames()
            for w in warnings { note("warning: \(w)") }
            let i = reader.info
            if json {
                struct InfoJSON: Encodable {
                    var path, codec, pixel_format: String
                    var width, height, rotation: Int
                    var frame_rate, time_base: String
                    var duration: Double?
                    var decoded_frames: Int
                    var header_frames: Int?
                    var stream_index, streams, video_streams: Int
                    var color_range, color_matrix: String
                    var decoded_full_range: Bool
                    var decoded_matrix: String
                    var warnings: [String]
                }
                let out = InfoJSON(path: file, codec: i.codec, pixel_format: i.pixelFormat, width: i.width, height: i.height,
                                   rotation: i.rotation, frame_rate: i.frameRate.description, time_base: i.timeBase.description,
                                   duration: i.duration, decoded_frames: count, header_frames: i.headerFrameCount,
                                   stream_index: i.streamIndex, streams: i.streamCount, video_streams: i.videoStreamCount,
                                   color_range: i.colour.range, color_matrix: i.colour.matrix,
                                   decoded_full_range: i.colour.decodedFullRange, decoded_matrix: i.colour.decodedMatrix,
                                   warnings: warnings.map(\.message))
                print(try encodeJSON(out, pretty: false))
            } else {
                let rows: [(String, String)] = [
                    ("file", file), ("codec", "\(i.codec) (\(i.pixelFormat))"),
                    ("size", "\(i.width)x\(i.height) (after rotation)"), ("rotation", "\(i.rotation)°"),
                    ("frame rate", "\(i.frameRate) (\(String(format: "%.3f", i.frameRate.value)) fps)"),
                    ("time base", i.timeBase.description),
                    ("duration", i.duration.map { String(format: "%.3f s", $0) } ?? "unknown"),
                    ("colour", i.colour.description),
                    ("frames", "\(count) decoded" + (i.headerFrameCount.map { ", header says \($0)" } ?? ", header says nothing")),
                    ("streams", "\(i.streamCount) (\(i.videoStreamCount) video; using stream \(i.streamIndex))"),
                ]
                for (k, v) in rows { print(k.padding(toLength: 11, withPad: " ", startingAt: 0) + v) }
            }
        }
    }

    struct Dump: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write decoded frames as raw RGB24 bytes (stdout by default).",
            discussion: """
                At native size the output matches `ffmpeg -i FILE -map 0:v:0 -fps_mode passthrough \
                -f rawvideo -pix_fmt rgb24 -` frame for frame (rotation applied). Without \
                `-fps_mode passthrough` the ffmpeg command resamples to a constant frame rate and \
                can repeat a frame (it does for two of the shared test videos); vipbench writes \
                exactly the frames that decode.
                """)

        @Argument(help: ArgumentHelp("The video file.", valueName: "file"))
        var file: String

        @Option(name: .customLong("short-side"), help: ArgumentHelp("Resize so the short side is S pixels.", valueName: "S"))
        var shortSide: Int?

        @Option(help: ArgumentHelp("Frames START:END[:STEP] (END exclusive; empty parts mean the ends).", valueName: "range"))
        var frames: String?

        @Option(help: ArgumentHelp("Write here instead of stdout.", valueName: "path"))
        var out: String?

        @Option(help: "Which video stream (0 = the first).")
        var stream: Int = 0

        func run() throws {
            var (start, end, step) = (0, Int.max, 1)
            if let frames {
                let parts = frames.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
                guard (2...3).contains(parts.count),
                      let s = parts[0].isEmpty ? 0 : Int(parts[0]),
                      let e = parts[1].isEmpty ? Int.max : Int(parts[1]),
                      let st = parts.count == 3 ? (parts[2].isEmpty ? 1 : Int(parts[2])) : 1,
                      s >= 0, e >= s, st >= 1 else {
                    throw ValidationError("--frames '\(frames)' is not START:END[:STEP] with 0 <= START <= END and STEP >= 1")
                }
                (start, end, step) = (s, e, st)
            }
            let reader = try VideoReader(path: file, videoStream: stream)
            let handle: FileHandle
            if let out {
                guard FileManager.default.createFile(atPath: out, contents: nil), let h = FileHandle(forWritingAtPath: out) else {
                    throw ValidationError("cannot write \(out)")
                }
                handle = h
            } else {
                handle = FileHandle.standardOutput
            }
            defer { if out != nil { try? handle.close() } }
            var written = 0
            var size = (0, 0)
            let warnings = try reader.decode(size: shortSide.map { .shortSide($0) } ?? .native) { frame in
                if frame.index >= end { return false }
                if frame.index >= start && (frame.index - start) % step == 0 {
                    handle.write(Data(frame.pixels))
                    written += 1
                    size = (frame.width, frame.height)
                }
                return true
            }
            for w in warnings { note("warning: \(w)") }
            note("\(written) frames of \(size.0)x\(size.1) RGB24 written to \(out ?? "stdout")")
        }
    }
}
