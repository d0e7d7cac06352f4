import Foundation
import XCTest

/// `vipbench dataset check`: counts, problems by name, and the frame index it leaves for the loader.
final class DatasetCLITests: XCTestCase {
    func testCheckReportsProblemsAndKeepsAFrameIndex() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let data = dir + "/data"
        XCTAssertEqual(try CLI.run(["dataset", "synth", "--out", data, "--classes", "2", "--per-class", "2,1,1"]).status, 0)
        let victim = try XCTUnwrap(try FileManager.default.contentsOfDirectory(atPath: data + "/val").first { $0.hasSuffix(".mp4") })
        try Data("not a video".utf8).write(to: URL(fileURLWithPath: data + "/val/" + victim))

        let r = try CLI.run(["dataset", "check", data, "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let o = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(o["videos"] as? Int, 8)
        let problems = try XCTUnwrap(o["problems"] as? [[String: Any]])
        XCTAssertEqual(problems.map { $0["id"] as? String }, [String(victim.dropLast(4))])
        XCTAssertEqual(problems.first?["kind"] as? String, "undecodable")
        let indexFile = try XCTUnwrap(o["frame_index"] as? String)
        XCTAssertEqual(indexFile, data + "/.vipbench/frame-index.json")
        let index = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: indexFile))) as? [String: Any])
        let videos = try XCTUnwrap(index["videos"] as? [String: [String: Any]])
        XCTAssertEqual(videos.count, 7, "every video that decodes")
        let entry = try XCTUnwrap(videos.first { $0.key.hasPrefix("train/") }?.value)
        let table = try XCTUnwrap(entry["table"] as? [String: Any])
        XCTAssertGreaterThan(table["count"] as? Int ?? 0, 20)
        XCTAssertEqual((table["keyframes"] as? [Int])?.first, 0)

        XCTAssertNotEqual(try CLI.run(["dataset", "check", data, "--strict"]).status, 0)
    }
}
