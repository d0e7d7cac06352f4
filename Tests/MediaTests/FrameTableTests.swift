import Foundation
import Media
import TestSupport
import XCTest

/// Partial decoding: the frames a clip needs, from the keyframe before the first to the last,
/// give the pixels sequential decoding gives, on every codec and container the fixtures cover.
final class FrameTableTests: XCTestCase {
    static let names = ["kinetics-tai-chi.mp4", "kinetics-arm-wrestling.mp4", "flipping-pancake.mkv", "odd-timebase.mp4", "hevc.mp4",
                        "vp9-no-duration.webm", "unordered-pts.mov", "rotation-90.mov", "ucf101-apply-eye-makeup.avi", "av1.mkv"]

    func testPartialDecodingGivesTheSequentialPixels() throws {
        _ = try requireFixture(DecoderTests.videos)
        for name in Self.names {
            let path = DecoderTests.videos + "/" + name
            let sequential = try VideoReader(path: path).readAll(size: .shortSide(48)).frames
            let (table, _) = try VideoReader(path: path).frameTable()
            let n = sequential.count
            XCTAssertEqual(table.count, n, name)
            XCTAssertEqual(table.keyframes.first, 0, name)
            let reader = try VideoReader(path: path)
            let clips: [[Int]] = [
                Array(stride(from: n / 2, to: min(n, n / 2 + 16), by: 2)),   // a training clip mid-video
                Array(stride(from: max(0, n - 9), to: n, by: 4)),              // at the end
                [0, 1, 2], [n - 1],
                Array(stride(from: 0, to: n, by: 7)),                          // test views over the whole video
            ]
            for wanted in clips {
                for t in [table, nil] as [FrameTable?] {
                    let got = try reader.frames(wanted, size: .shortSide(48), table: t).frames
                    XCTAssertEqual(got.map(\.index), wanted, name)
                    for f in got where f.pixels != sequential[f.index].pixels {
                        XCTFail("\(name) frame \(f.index): partial decoding differs from sequential (table: \(t != nil))")
                    }
                }
            }
            // Past the end: what exists comes back.
            XCTAssertEqual(try reader.frames([n - 1, n, n + 5], size: .shortSide(48), table: table).frames.map(\.index), [n - 1], name)
            if name.hasPrefix("kinetics") || ["av1.mkv", "vp9-no-duration.webm", "flipping-pancake.mkv", "hevc.mp4"].contains(name) {
                XCTAssertNotNil(table.timestamps, "\(name): timestamps index its frames")
                XCTAssertEqual(reader.seekFallbacks, 0, "\(name) should seek")
            }
        }
    }

    /// A clip that starts a frame or two before a keyframe seeks to the keyframe before it, not past
    /// it (x264 with a keyframe every 10 frames and B-frames, whose decode order differs from
    /// presentation order), and H.264 skips the non-reference frames it does not use.
    func testClipsAroundKeyframes() throws {
        let dir = NSTemporaryDirectory() + "vipbench-keyframes-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/g10.mp4"
        let made = try FFmpegCommand.run(["-f", "lavfi", "-i", "testsrc2=size=96x64:rate=25:duration=3", "-c:v", "libx264", "-g", "10",
                                          "-keyint_min", "10", "-bf", "3", "-pix_fmt", "yuv420p", path])
        guard made.status == 0 else { throw XCTSkip("no libx264 in this ffmpeg: \(made.error)") }
        let (table, _) = try VideoReader(path: path).frameTable()
        XCTAssertGreaterThanOrEqual(table.keyframes.count, 5, "\(table.keyframes)")
        XCTAssertNotNil(table.timestamps)
        let sequential = try VideoReader(path: path).readAll(size: .shortSide(33)).frames
        let reader = try VideoReader(path: path)
        for key in table.keyframes where key >= 2 {
            for wanted in [[key - 2, key - 1, key, key + 1], [key - 1, key + 3], [key + 1]] where wanted.last! < table.count {
                let got = try reader.frames(wanted, size: .shortSide(33), table: table).frames
                XCTAssertEqual(got.map(\.index), wanted)
                XCTAssertTrue(zip(got, wanted).allSatisfy { $0.pixels == sequential[$1].pixels }, "frames \(wanted)")
            }
        }
        XCTAssertEqual(reader.seekFallbacks, 0)
    }

    /// The kinetics clips have more than one keyframe: a clip after the second starts there.
    func testKeyframesAndCompactStorage() throws {
        _ = try requireFixture(DecoderTests.videos)
        let (table, _) = try VideoReader(path: DecoderTests.videos + "/kinetics-tai-chi.mp4").frameTable()
        XCTAssertGreaterThan(table.keyframes.count, 1)
        let second = table.keyframes[1]
        XCTAssertEqual(table.keyframe(before: second - 1), 0)
        XCTAssertEqual(table.keyframe(before: second), second)
        XCTAssertEqual(table.keyframe(before: table.count - 1), table.keyframes.last)
        let json = try JSONEncoder().encode(table)
        XCTAssertEqual(try JSONDecoder().decode(FrameTable.self, from: json), table)
        XCTAssertLessThan(json.count, 200, String(decoding: json, as: UTF8.self))  // one run of timestamps, not 300 numbers
        // Irregular timestamps survive too.
        let odd = FrameTable(count: 6, timestamps: [0, 1, 2, 3, 10, 11], keyframes: [0, 4])
        XCTAssertEqual(try JSONDecoder().decode(FrameTable.self, from: JSONEncoder().encode(odd)), odd)
        let single = FrameTable(count: 1, timestamps: [7], keyframes: [0])
        XCTAssertEqual(try JSONDecoder().decode(FrameTable.self, from: JSONEncoder().encode(single)), single)
        // A damaged index entry is an error, never a crash or a huge allocation.
        for bad in [#"{"count": 3, "keyframes": [0], "timestampRuns": [[0, 1, 2]]}"#,
                    #"{"count": 2, "keyframes": [0], "timestampRuns": [[9223372036854775807, 1, 2]]}"#,
                    #"{"count": 2, "keyframes": [0], "timestampRuns": [[0, 1, 9000000000000000000]]}"#,
                    #"{"count": 2, "keyframes": [0], "timestampRuns": [[5, 0, 2]]}"#,
                    #"{"count": 2, "keyframes": [1, 0], "timestampRuns": [[0, 1, 2]]}"#] {
            XCTAssertThrowsError(try JSONDecoder().decode(FrameTable.self, from: Data(bad.utf8)), bad)
        }
    }

    /// A table that does not match the file (stale, or made for another one): the decoder's
    /// timestamps after the seek disagree, and decoding from the start gives the right pixels.
    func testAStaleTableFallsBackToDecodingFromTheStart() throws {
        let path = try requireFixture(DecoderTests.videos + "/kinetics-tai-chi.mp4")
        let reader = try VideoReader(path: path)
        var (table, _) = try reader.frameTable()
        table.timestamps = table.timestamps!.map { $0 + 1 }
        let wanted = [table.count - 20, table.count - 10]
        let got = try reader.frames(wanted, size: .shortSide(48), table: table).frames
        let sequential = try VideoReader(path: path).readAll(size: .shortSide(48)).frames
        XCTAssertEqual(got.map(\.index), wanted)
        XCTAssertTrue(zip(got, wanted).allSatisfy { $0.pixels == sequential[$1].pixels })
        XCTAssertEqual(reader.seekFallbacks, 1)
    }
}
