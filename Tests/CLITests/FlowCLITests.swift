import Foundation
import XCTest

final class FlowCLITests: XCTestCase {
    var fixtures: String { CLI.packageRoot + "/Tests/Fixtures/flow" }

    func testPairAndShow() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try CLI.run(["flow", "pair", fixtures + "/pool224_0.pgm", fixtures + "/pool224_1.pgm", "--out", dir + "/f.flo", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let o = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(o["width"] as? Int, 224)
        XCTAssertEqual(o["preset"] as? String, "opencv-cpu")
        XCTAssertEqual(try XCTUnwrap(o["mean_magnitude"] as? Double), 2.62, accuracy: 0.05)
        let flo = try Data(contentsOf: URL(fileURLWithPath: dir + "/f.flo"))
        XCTAssertEqual(flo.count, 12 + 8 * 224 * 224)
        // An override changes the preset's recorded name.
        let custom = try CLI.run(["flow", "pair", fixtures + "/taichi112_0.pgm", fixtures + "/taichi112_1.pgm", "--out", dir + "/g.flo",
                                  "--preset", "opencv-cuda", "--warps", "2", "--json"])
        XCTAssertTrue(custom.stdout.contains("\"opencv-cuda+custom\""), custom.stdout + custom.stderr)

        let show = try CLI.run(["flow", "show", dir + "/f.flo", "--png", dir + "/f.png"])
        XCTAssertEqual(show.status, 0, show.stderr)
        let png = try Data(contentsOf: URL(fileURLWithPath: dir + "/f.png"))
        XCTAssertEqual(Array(png.prefix(8)), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        let w = png[16..<20].reduce(0) { $0 << 8 | Int($1) }, h = png[20..<24].reduce(0) { $0 << 8 | Int($1) }
        XCTAssertEqual([w, h], [224, 224])

        let mismatch = try CLI.run(["flow", "pair", fixtures + "/pool224_0.pgm", fixtures + "/taichi112_1.pgm", "--out", dir + "/x.flo"])
        XCTAssertNotEqual(mismatch.status, 0)
        XCTAssertTrue(mismatch.stderr.contains("224x224") && mismatch.stderr.contains("112x112"), mismatch.stderr)
        let missing = try CLI.run(["flow", "pair", dir + "/nope.png", fixtures + "/pool224_1.pgm", "--out", dir + "/x.flo"])
        XCTAssertNotEqual(missing.status, 0)
        XCTAssertTrue(missing.stderr.contains("nope.png"), missing.stderr)
        let preset = try CLI.run(["flow", "pair", fixtures + "/pool224_0.pgm", fixtures + "/pool224_1.pgm", "--out", dir + "/x.flo", "--preset", "fast"])
        XCTAssertTrue(preset.stderr.contains("unknown preset 'fast'") && preset.stderr.contains("opencv-cpu"), preset.stderr)
        let notFlo = try CLI.run(["flow", "show", CLI.packageRoot + "/README.md", "--png", dir + "/y.png"])
        XCTAssertNotEqual(notFlo.status, 0)
    }

    /// PNG, PPM and JPEG are read through FFmpeg like PGM: lossless formats give the same flow.
    func testPictureFormats() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        guard let ffmpeg = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":")
            .map({ "\($0)/ffmpeg" }).first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw XCTSkip("no ffmpeg command")
        }
        for ext in ["png", "ppm", "jpg"] {
            for i in 0..<2 {
                let p = Process()
                p.executableURL = URL(fileURLWithPath: ffmpeg)
                p.arguments = ["-v", "error", "-y", "-i", fixtures + "/taichi112_\(i).pgm"] + (ext == "jpg" ? ["-q:v", "2"] : [])
                    + ["-pix_fmt", ext == "jpg" ? "yuvj444p" : "rgb24", dir + "/f\(i).\(ext)"]
                try p.run(); p.waitUntilExit()
                XCTAssertEqual(p.terminationStatus, 0, ext)
            }
        }
        XCTAssertEqual(try CLI.run(["flow", "pair", fixtures + "/taichi112_0.pgm", fixtures + "/taichi112_1.pgm", "--out", dir + "/pgm.flo"]).status, 0)
        let reference = try Data(contentsOf: URL(fileURLWithPath: dir + "/pgm.flo"))
        for ext in ["png", "ppm", "jpg"] {
            let r = try CLI.run(["flow", "pair", dir + "/f0.\(ext)", dir + "/f1.\(ext)", "--out", dir + "/\(ext).flo", "--json"])
            XCTAssertEqual(r.status, 0, r.stderr)
            let flow = try Data(contentsOf: URL(fileURLWithPath: dir + "/\(ext).flo"))
            if ext == "jpg" {
                XCTAssertEqual(flow.count, reference.count)  // lossy: only the size is the same
            } else {
                XCTAssertEqual(flow, reference, "\(ext): grey levels survive a lossless round trip")
            }
        }
    }

    /// Extraction over a small synthetic set: complete, skip on rerun, resume after a kill, and a
    /// corrupt video reported while the others go on.
    func testExtractResumesAndSurvivesACorruptVideo() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let data = dir + "/data", out = dir + "/flow"
        XCTAssertEqual(try CLI.run(["dataset", "synth", "--out", data, "--classes", "2", "--per-class", "2,1,0"]).status, 0)
        let first = try CLI.run(["flow", "extract", "--data", data, "--out", out, "--json"])
        XCTAssertEqual(first.status, 0, first.stderr)
        let o = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(first.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(o["videos"] as? Int, 6)
        XCTAssertEqual(o["extracted"] as? Int, 6)
        XCTAssertGreaterThan(o["pairs"] as? Int ?? 0, 6 * 20)
        let records = try FileManager.default.subpathsOfDirectory(atPath: out).filter { $0.hasSuffix(".json") }
        XCTAssertEqual(records.count, 6)
        let record = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/" + records[0]))) as? [String: Any])
        XCTAssertEqual(record["preset"] as? String, "opencv-cpu")
        XCTAssertEqual(record["bound"] as? Double, 20)
        XCTAssertTrue((record["source"] as? String ?? "").hasPrefix(data))

        let again = try CLI.run(["flow", "extract", "--data", data, "--out", out])
        XCTAssertTrue(again.stdout.contains("0 extracted") && again.stdout.contains("6 already complete"), again.stdout)

        // Another bound quantises the same flow over another range, and the record says which.
        let out4 = dir + "/flow4"
        let bound4 = try CLI.run(["flow", "extract", "--data", data, "--out", out4, "--split", "val", "--bound", "4"])
        XCTAssertEqual(bound4.status, 0, bound4.stderr)
        let val = try XCTUnwrap(try FileManager.default.subpathsOfDirectory(atPath: out4 + "/val").first { $0.hasSuffix(".json") })
        let record4 = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out4 + "/val/" + val))) as? [String: Any])
        XCTAssertEqual(record4["bound"] as? Double, 4)
        let mkv = "/val/" + val.dropLast(5) + ".mkv"
        XCTAssertNotEqual(try Data(contentsOf: URL(fileURLWithPath: out4 + mkv)), try Data(contentsOf: URL(fileURLWithPath: out + mkv)))
        let zero = try CLI.run(["flow", "extract", "--data", data, "--out", out4, "--bound", "0"])
        XCTAssertNotEqual(zero.status, 0)
        XCTAssertTrue(zero.stderr.contains("--bound"), zero.stderr)

        // Kill an extraction after its first video, then resume: every video ends complete.
        let out2 = dir + "/flow2"
        let (p, _, _) = try CLI.start(["flow", "extract", "--data", data, "--out", out2, "--jobs", "1"])
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            let done = (try? FileManager.default.subpathsOfDirectory(atPath: out2))?.filter { $0.hasSuffix(".json") }.count ?? 0
            if done >= 1 { break }
            Thread.sleep(forTimeInterval: 0.02)
        }
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        let resumed = try CLI.run(["flow", "extract", "--data", data, "--out", out2, "--json"])
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        let ro = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(resumed.stdout.utf8)) as? [String: Any])
        XCTAssertGreaterThanOrEqual(ro["skipped"] as? Int ?? 0, 1, resumed.stdout)
        XCTAssertGreaterThanOrEqual(ro["extracted"] as? Int ?? 0, 1, resumed.stdout)
        XCTAssertEqual((ro["skipped"] as? Int ?? 0) + (ro["extracted"] as? Int ?? 0), 6)
        let files = try FileManager.default.subpathsOfDirectory(atPath: out2)
        XCTAssertEqual(files.filter { $0.hasSuffix(".json") }.count, 6)
        XCTAssertTrue(files.filter { $0.hasSuffix(".partial") }.isEmpty, "\(files)")
        // The resumed output is the same as the uninterrupted one.
        for f in files where f.hasSuffix(".mkv") {
            XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: out2 + "/" + f)), try Data(contentsOf: URL(fileURLWithPath: out + "/" + f)), f)
        }

        // A corrupt video: reported by name, the rest skipped, exit status 1.
        let victim = try XCTUnwrap(try FileManager.default.subpathsOfDirectory(atPath: data + "/train").first { $0.hasSuffix(".mp4") })
        try Data("not a video at all".utf8).write(to: URL(fileURLWithPath: data + "/train/" + victim))
        let id = String(victim.dropLast(4))
        try FileManager.default.removeItem(atPath: out + "/train/\(id).json")
        let bad = try CLI.run(["flow", "extract", "--data", data, "--out", out])
        XCTAssertEqual(bad.status, 1)
        XCTAssertTrue(bad.stderr.contains(victim) && bad.stderr.contains("failed"), bad.stderr)
        XCTAssertTrue(bad.stdout.contains("5 already complete") && bad.stdout.contains("1 failed"), bad.stdout)
    }
}
