import Foundation
import Media
import TestSupport
import XCTest

/// The decoder against FFmpeg's own output (`ffmpeg ... -f rawvideo -pix_fmt rgb24 -`) on every
/// test video (committed in Tests/Fixtures/videos), and its errors on bad input.
final class DecoderTests: XCTestCase {
    static let videos = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/videos").path

    /// Decoded frame counts (ffprobe -count_frames), from the test videos' README.
    static let frameCounts: [String: Int] = [
        "kinetics-arm-wrestling.mp4": 280, "kinetics-cleaning-pool.mp4": 300, "kinetics-tai-chi.mp4": 300,
        "kinetics-clean-and-jerk.mp4": 300, "flipping-pancake.mkv": 310, "ucf101-apply-eye-makeup.avi": 164,
        "odd-timebase.mp4": 355, "two-video-streams.mp4": 325, "rotation-0.mov": 3, "rotation-90.mov": 3,
        "rotation-180.mov": 3, "rotation-270.mov": 3, "unordered-pts.mov": 4, "truncated.mp4": 49,
        "broken-audio.mp4": 280, "vp9-no-duration.webm": 74, "vp8-animation.webm": 24, "hevc.mp4": 10,
        "h264-10bit.mp4": 30, "av1.mkv": 125,
    ]

    /// The ffmpeg command's frames, passthrough timing (the default constant-rate sync repeats a
    /// frame in two of these files; vipbench returns exactly what decodes).
    func ffmpegFrames(_ path: String) throws -> Data {
        try FFmpegCommand.run(["-i", path, "-map", "0:v:0", "-fps_mode", "passthrough",
                               "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]).output
    }

    func testEveryTestVideoMatchesFFmpegFrameForFrame() throws {
        _ = try requireFixture(DecoderTests.videos)
        for (name, expectedCount) in DecoderTests.frameCounts.sorted(by: { $0.key < $1.key }) {
            let path = DecoderTests.videos + "/" + name
            let reference = [UInt8](try ffmpegFrames(path))
            let reader = try VideoReader(path: path)
            var frames = 0, worst = 0.0, offset = 0
            let warnings = try reader.decode { f in
                let n = f.pixels.count
                guard offset + n <= reference.count else { frames += 1; worst = .infinity; return true }
                var sum = 0
                reference.withUnsafeBufferPointer { r in
                    f.pixels.withUnsafeBufferPointer { p in
                        for i in 0..<n { sum += abs(Int(p[i]) - Int(r[offset + i])) }
                    }
                }
                worst = max(worst, Double(sum) / Double(n))
                offset += n
                frames += 1
                return true
            }
            XCTAssertEqual(frames, expectedCount, "\(name): decoded frames")
            XCTAssertEqual(offset, reference.count, "\(name): ffmpeg wrote \(reference.count) bytes, vipbench \(offset)")
            if name == "truncated.mp4" {
                // After the damage the two decoders conceal errors slightly differently.
                XCTAssertLessThanOrEqual(worst, 0.5, "\(name): mean absolute difference per frame")
                XCTAssertTrue(warnings.contains { $0.message.contains("damaged") }, "\(name): \(warnings)")
            } else {
                XCTAssertEqual(worst, 0, "\(name): mean absolute difference per frame")
            }
        }
    }

    func testStreamInfo() throws {
        _ = try requireFixture(DecoderTests.videos)
        let r90 = try VideoReader(path: DecoderTests.videos + "/rotation-90.mov").info
        XCTAssertEqual([r90.width, r90.height, r90.rotation], [320, 568, 90])
        let r270 = try VideoReader(path: DecoderTests.videos + "/rotation-270.mov").info
        XCTAssertEqual(r270.rotation, 270)
        XCTAssertEqual(try VideoReader(path: DecoderTests.videos + "/rotation-180.mov").info.rotation, 180)
        let odd = try VideoReader(path: DecoderTests.videos + "/odd-timebase.mp4").info
        XCTAssertEqual(odd.frameRate, Fraction(numerator: 981, denominator: 50))
        XCTAssertEqual(odd.timeBase.description, "1/981")
        let two = try VideoReader(path: DecoderTests.videos + "/two-video-streams.mp4").info
        XCTAssertEqual(two.videoStreamCount, 2)
        XCTAssertGreaterThanOrEqual(two.streamCount, 4)
        let second = try VideoReader(path: DecoderTests.videos + "/two-video-streams.mp4", videoStream: 1)
        XCTAssertNotEqual(second.info.streamIndex, two.streamIndex)
        let ten = try VideoReader(path: DecoderTests.videos + "/h264-10bit.mp4").info
        XCTAssertEqual(ten.pixelFormat, "yuv420p10le")
        XCTAssertNil(try VideoReader(path: DecoderTests.videos + "/vp9-no-duration.webm").info.headerFrameCount)
    }

    func testResizingAndEarlyStop() throws {
        _ = try requireFixture(DecoderTests.videos)
        let reader = try VideoReader(path: DecoderTests.videos + "/kinetics-tai-chi.mp4")
        var got: [RGBFrame] = []
        try reader.decode(size: .shortSide(128)) { got.append($0); return got.count < 5 }
        XCTAssertEqual(got.count, 5)
        XCTAssertEqual([got[0].width, got[0].height], [170, 128])
        XCTAssertEqual(got[0].pixels.count, 170 * 128 * 3)
        XCTAssertEqual(got.map(\.index), [0, 1, 2, 3, 4])
        // Rotated and resized: the short side of the displayed picture.
        let rotated = try VideoReader(path: DecoderTests.videos + "/rotation-90.mov")
        let frames = try rotated.readAll(size: .shortSide(64)).frames
        XCTAssertEqual([frames[0].width, frames[0].height], [64, 114])
        // Decoding twice gives the same pixels.
        let again = try reader.readAll(size: .shortSide(128)).frames
        XCTAssertEqual(again[3].pixels, got[3].pixels)
    }

    func testBadInputsAreTypedErrorsThatNameTheFile() throws {
        let dir = NSTemporaryDirectory() + "vipbench-media-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        XCTAssertThrowsError(try VideoReader(path: dir + "/missing.mp4")) {
            XCTAssertEqual($0 as? MediaError, .fileNotFound(path: dir + "/missing.mp4"))
        }
        let text = dir + "/notes.mp4"
        try "this is not a video".write(toFile: text, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try VideoReader(path: text)) { error in
            guard case MediaError.notAVideo(let p, _) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(p, text)
        }
        let empty = dir + "/empty.mp4"
        FileManager.default.createFile(atPath: empty, contents: Data())
        XCTAssertThrowsError(try VideoReader(path: empty)) { XCTAssertTrue("\($0)".contains(empty)) }
        let hevc = try requireFixture(DecoderTests.videos + "/hevc.mp4")
        XCTAssertThrowsError(try VideoReader(path: hevc, videoStream: 3)) {
            XCTAssertTrue("\($0)".contains("video stream 3 requested, the file has 1"))
        }
        // An audio-only file made by the ffmpeg command (last: the test skips here without it).
        let wav = dir + "/tone.wav"
        _ = try FFmpegCommand.run(["-f", "lavfi", "-i", "sine=frequency=440:duration=0.2", wav])
        XCTAssertThrowsError(try VideoReader(path: wav)) {
            XCTAssertEqual("\($0)", "\(wav): has no video stream (1 other stream)")
        }
    }
}

final class RandomAccessTests: XCTestCase {
    func testRandomAccessGivesTheSequentialPixels() throws {
        _ = try requireFixture(DecoderTests.videos)
        for name in ["kinetics-tai-chi.mp4", "flipping-pancake.mkv", "odd-timebase.mp4", "hevc.mp4", "vp9-no-duration.webm",
                     "unordered-pts.mov", "rotation-90.mov", "ucf101-apply-eye-makeup.avi", "av1.mkv"] {
            let path = DecoderTests.videos + "/" + name
            let sequential = try VideoReader(path: path).readAll(size: .shortSide(64)).frames
            let reader = try VideoReader(path: path)
            let n = sequential.count
            for i in Array(Set([0, 1, n / 3, n / 2, n - 2, n - 1].filter { $0 >= 0 && $0 < n })).sorted().reversed() {
                let f = try XCTUnwrap(reader.frame(at: i, size: .shortSide(64)), "\(name) frame \(i)")
                XCTAssertEqual(f.index, i, name)
                XCTAssertTrue(f.pixels == sequential[i].pixels, "\(name) frame \(i): random access differs from sequential")
            }
            if name.hasPrefix("kinetics") || ["av1.mkv", "vp9-no-duration.webm", "flipping-pancake.mkv"].contains(name) {
                XCTAssertEqual(reader.seekFallbacks, 0, "\(name) should seek")
            }

        }
    }
}
