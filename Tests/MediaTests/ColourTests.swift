import Foundation
import Media
import XCTest

/// Colour range and matrix against the `ffmpeg` command: every combination of range (limited, full,
/// unstated) and matrix (BT.601, BT.709, BT.2020, unstated) at 8 and 10 bits, made at test time by
/// the `ffmpeg` command's own encoder, decoded at the coded size and through the loader's resize.
final class ColourTests: XCTestCase {
    var dir: String!
    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "vipbench-colour-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    func ffmpeg(_ arguments: [String]) throws -> Data {
        let r = try FFmpegCommand.run(arguments)
        guard r.status == 0 else { throw XCTSkip("ffmpeg \(arguments.joined(separator: " ")) failed: \(r.error)") }
        return r.output
    }

    /// The `ffmpeg` command's RGB24 frames, optionally through its scaler at an exact size.
    func reference(_ path: String, size: (Int, Int)? = nil) throws -> [UInt8] {
        var args = ["-i", path, "-map", "0:v:0", "-fps_mode", "passthrough"]
        if let (w, h) = size { args += ["-vf", "scale=\(w):\(h)"] }
        return [UInt8](try ffmpeg(args + ["-f", "rawvideo", "-pix_fmt", "rgb24", "-"]))
    }

    /// The largest per-frame mean absolute difference between vipbench's frames and the reference.
    func worstFrame(_ path: String, size: FrameSize, against reference: [UInt8]) throws -> Double {
        let frames = try VideoReader(path: path).readAll(size: size).frames
        let bytes = frames.map(\.pixels.count).reduce(0, +)
        XCTAssertEqual(bytes, reference.count, "\(path): bytes decoded")
        guard bytes == reference.count, !frames.isEmpty else { return .infinity }
        var offset = 0, worst = 0.0
        for f in frames {
            var sum = 0
            for i in 0..<f.pixels.count { sum += abs(Int(f.pixels[i]) - Int(reference[offset + i])) }
            worst = max(worst, Double(sum) / Double(f.pixels.count))
            offset += f.pixels.count
        }
        return worst
    }

    func testEveryRangeAndMatrixAt8And10BitsDecodesAsTheFFmpegCommandDoes() throws {
        let ranges: [String?] = ["tv", "pc", nil]
        let matrices: [String?] = ["bt470bg", "bt709", "bt2020nc", nil]
        var cases: [(name: String, format: String, range: String?, matrix: String?)] = []
        for r in ranges { for m in matrices {
            for format in ["yuv420p", "yuv420p10le"] { cases.append(("\(r ?? "unstated")-\(m ?? "unstated")-\(format)", format, r, m)) }
            // The JPEG-style format, full range by definition (phones and screen recorders write it).
            if r == "pc" { cases.append(("pc-\(m ?? "unstated")-yuvj420p", "yuvj420p", r, m)) }
        } }
        var checked = 0
        for c in cases {
            let path = dir + "/\(c.name).mp4"
            var args = ["-f", "lavfi", "-i", "testsrc2=size=64x48:rate=25", "-frames:v", "3", "-pix_fmt", c.format]
            if let r = c.range { args += ["-color_range", r] }
            if let m = c.matrix { args += ["-colorspace", m] }
            _ = try ffmpeg(args + ["-c:v", "libx264", "-qp", "10", "-y", path])

            let info = try VideoReader(path: path).info
            // x264 writes the signal type only when something differs from its defaults (limited
            // range, no matrix), and then states the range.
            XCTAssertEqual(info.colour.range, c.range == "pc" ? "pc" : c.matrix != nil ? "tv" : "unknown", c.name)
            XCTAssertEqual(info.colour.matrix, c.matrix ?? "unknown", c.name)
            XCTAssertEqual(info.colour.decodedFullRange, c.range == "pc", c.name)
            XCTAssertEqual(info.colour.decodedMatrix, c.matrix == "bt709" ? "BT.709" : c.matrix == "bt2020nc" ? "BT.2020" : "BT.601", c.name)

            let native = try worstFrame(path, size: .native, against: try reference(path))
            XCTAssertLessThanOrEqual(native, 0.5, "\(c.name): mean absolute difference per frame at 64x48")
            // The loader's path: decode, convert and resize the short side in one swscale pass.
            let resized = try worstFrame(path, size: .shortSide(30), against: try reference(path, size: (40, 30)))
            XCTAssertLessThanOrEqual(resized, 0.5, "\(c.name): mean absolute difference per frame at 40x30")
            checked += 1
        }
        XCTAssertEqual(checked, 28)
    }

    /// The full-range BT.709 HD case the issue was found on, at a size where swscale takes its
    /// vector paths.
    func testFullRangeBT709AtHDSize() throws {
        let path = dir + "/hd.mp4"
        _ = try ffmpeg(["-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=25", "-frames:v", "2", "-pix_fmt", "yuvj420p",
                        "-color_range", "pc", "-colorspace", "bt709", "-c:v", "libx264", "-qp", "12", "-y", path])
        XCTAssertLessThanOrEqual(try worstFrame(path, size: .native, against: try reference(path)), 0.5)
        XCTAssertLessThanOrEqual(try worstFrame(path, size: .shortSide(128), against: try reference(path, size: (228, 128))), 0.5)
    }

    /// What `VideoWriter` states is what it wrote: ffmpeg reads the files back with the same colours.
    func testWrittenColoursReadBackTheSameThroughFFmpeg() throws {
        let (w, h) = (48, 32)
        func pattern(_ t: Int) -> [UInt8] {
            (0..<(w * h * 3)).map { UInt8(truncatingIfNeeded: ($0 % (w * 3)) * 5 + ($0 / (w * 3)) * 7 + t * 11) }
        }
        for (codec, ext) in [(VideoWriter.Codec.h264(crf: 12), "mp4"), (.mpeg4(qscale: 2), "mp4"), (.ffv1, "mkv")] {
            let path = dir + "/written-\(codec)." + ext
            let writer = try VideoWriter(path: path, width: w, height: h, frameRate: Fraction(numerator: 25, denominator: 1), codec: codec)
            for t in 0..<3 { try writer.write(pattern(t)) }
            try writer.finish()
            let colour = try VideoReader(path: path).info.colour
            switch codec {
            case .ffv1: XCTAssertEqual(colour.matrix, "gbr")
            case .h264: XCTAssertEqual([colour.range, colour.matrix], ["tv", "bt470bg"])
            // MPEG-4 Part 2 in MP4 carries no colour fields: unstated reads as BT.601 limited, as written.
            case .mpeg4: XCTAssertEqual([colour.range, colour.matrix], ["unknown", "unknown"])
            }
            if codec != .ffv1 { XCTAssertEqual(colour.decodedMatrix, "BT.601"); XCTAssertFalse(colour.decodedFullRange) }
            XCTAssertLessThanOrEqual(try worstFrame(path, size: .native, against: try reference(path)), 0.5, "\(codec)")
        }
        // Grey planes (quantised flow) are full range: the ffmpeg command copies each byte as vipbench does.
        let gray = dir + "/gray.mkv"
        let writer = try VideoWriter(path: gray, width: w, height: h, frameRate: Fraction(numerator: 25, denominator: 1),
                                     codec: .ffv1, input: .gray8)
        let plane = (0..<(w * h)).map { UInt8(truncatingIfNeeded: $0 * 7) }
        try writer.write(plane)
        try writer.finish()
        XCTAssertEqual(try VideoReader(path: gray).info.colour.range, "pc")
        let frames = try VideoReader(path: gray).readAll().frames
        XCTAssertEqual(stride(from: 0, to: frames[0].pixels.count, by: 3).map { frames[0].pixels[$0] }, plane)
        XCTAssertEqual(try worstFrame(gray, size: .native, against: try reference(gray)), 0)
    }
}
