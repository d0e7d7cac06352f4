import Foundation
import XCTest

final class ModelCLITests: XCTestCase {
    func testModelListAndInfo() throws {
        let list = try CLI.run(["model", "list"])
        XCTAssertEqual(list.status, 0, list.stderr)
        XCTAssertTrue(list.stdout.contains("r3d18") && list.stdout.contains("r3d50-hara"), list.stdout)
        let r = try CLI.run(["model", "info", "r3d18", "--input", "3x16x112x112", "--json", "--layers"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let o = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(o["parameters"] as? Int, 33_371_472)
        XCTAssertEqual(try XCTUnwrap(o["gmacs_per_view"] as? Double), 40.697, accuracy: 0.001)
        let layers = try XCTUnwrap(o["layers"] as? [[String: Any]])
        XCTAssertEqual(layers.first?["name"] as? String, "stem.0")
        XCTAssertEqual(layers.last?["name"] as? String, "fc")
        let bad = try CLI.run(["model", "info", "resnet9000"])
        XCTAssertNotEqual(bad.status, 0)
        // The parse error names the bad value and lists the networks there are.
        XCTAssertTrue(bad.stderr.contains("resnet9000") && bad.stderr.contains("r3d50-hara"), bad.stderr)
    }

    func testInitThenForwardWithWeights() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let w = dir + "/w.safetensors"
        let i = try CLI.run(["model", "init", "r3d18", "--out", w, "--classes", "4", "--width", "0.125", "--seed", "3"])
        XCTAssertEqual(i.status, 0, i.stderr)
        // A 1 x 3 x 4 x 16 x 16 clip as .npy, written by hand (header + float32 data).
        let n = 3 * 4 * 16 * 16
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 3, 4, 16, 16), }"
        while (10 + header.utf8.count + 1) % 64 != 0 { header += " " }
        header += "\n"
        var bytes: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(header.utf8.count), 0] + Array(header.utf8)
        for k in 0..<n { withUnsafeBytes(of: Float(k % 17) / 17) { bytes += $0 } }
        FileManager.default.createFile(atPath: dir + "/x.npy", contents: Data(bytes))
        // The width comes from the checkpoint's shapes, so loading into a full-width model fails clearly.
        let wrong = try CLI.run(["model", "forward", "r3d18", "--weights", w, "--input", dir + "/x.npy", "--classes", "4"])
        XCTAssertNotEqual(wrong.status, 0)
        XCTAssertTrue(wrong.stderr.contains("has shape"), wrong.stderr)
        let loaded = try CLI.run(["model", "forward", "r3d18", "--weights", w, "--width", "0.125", "--input", dir + "/x.npy", "--classes", "4"])
        XCTAssertEqual(loaded.status, 0, loaded.stderr)
        XCTAssertEqual(loaded.stdout.split(separator: " ").count, 4)
        // The seeded initialisation without weights gives the same logits as its saved checkpoint.
        let seeded = try CLI.run(["model", "forward", "r3d18", "--width", "0.125", "--seed", "3", "--input", dir + "/x.npy", "--classes", "4"])
        XCTAssertEqual(seeded.stdout, loaded.stdout)
    }

    func testBenchModelRecordsPerformance() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let db = dir + "/p.sqlite"
        let r = try CLI.run(["bench", "model", "r3d18", "--input", "3x4x32x32", "--width", "0.125", "--seconds", "0.1",
                             "--train", "--batch", "2", "--json", "--db", db])
        XCTAssertEqual(r.status, 0, r.stderr)
        let o = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(o["mode"] as? String, "train-step")
        XCTAssertGreaterThan(o["clips_per_second"] as? Double ?? 0, 0)
        let perf = try CLI.run(["results", "--performance", "--db", db, "--format", "csv"])
        XCTAssertTrue(perf.stdout.contains("r3d18,train-step,3x4x32x32,0.1250,,2,"), perf.stdout)  // width 1/8; no runner scale
    }
}
