import Foundation
import XCTest

final class VideoCLITests: XCTestCase {
    /// The committed test videos (Tests/Fixtures/videos); a missing folder fails the test.
    func videosDirectory() throws -> String { try CLI.fixture("videos") }

    func testInfoJSON() throws {
        let videos = try videosDirectory()
        let r = try CLI.run(["video", "info", videos + "/rotation-90.mov", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let o = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(o["codec"] as? String, "h264")
        XCTAssertEqual(o["width"] as? Int, 320)
        XCTAssertEqual(o["height"] as? Int, 568)
        XCTAssertEqual(o["rotation"] as? Int, 90)
        XCTAssertEqual(o["decoded_frames"] as? Int, 3)
        XCTAssertNotNil(o["frame_rate"] as? String)
        XCTAssertNotNil(o["time_base"] as? String)
        XCTAssertNotNil(o["streams"] as? Int)
        let t = try CLI.run(["video", "info", videos + "/truncated.mp4", "--json"])
        let to = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(t.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(to["decoded_frames"] as? Int, 49)
        XCTAssertEqual(to["header_frames"] as? Int, 50)
        XCTAssertTrue(t.stderr.contains("truncated.mp4") && t.stderr.contains("warning"), t.stderr)
    }

    func testDumpRangesAndSizes() throws {
        let videos = try videosDirectory()
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let all = dir + "/all.rgb", some = dir + "/some.rgb"
        XCTAssertEqual(try CLI.run(["video", "dump", videos + "/hevc.mp4", "--out", all]).status, 0)
        let r = try CLI.run(["video", "dump", videos + "/hevc.mp4", "--frames", "2:9:3", "--out", some])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("3 frames of 128x128"), r.stderr)
        let a = try Data(contentsOf: URL(fileURLWithPath: all)), s = try Data(contentsOf: URL(fileURLWithPath: some))
        let frame = 128 * 128 * 3
        XCTAssertEqual(a.count, 10 * frame)
        XCTAssertEqual(s, a[(2 * frame)..<(3 * frame)] + a[(5 * frame)..<(6 * frame)] + a[(8 * frame)..<(9 * frame)])
        let small = try CLI.run(["video", "dump", videos + "/kinetics-tai-chi.mp4", "--short-side", "112", "--frames", "0:2", "--out", some])
        XCTAssertTrue(small.stderr.contains("2 frames of 149x112"), small.stderr)
        let bad = try CLI.run(["video", "dump", videos + "/hevc.mp4", "--frames", "5:2"])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains("START:END"), bad.stderr)
        let notVideo = try CLI.run(["video", "info", CLI.packageRoot + "/README.md"])
        XCTAssertNotEqual(notVideo.status, 0)
        XCTAssertTrue(notVideo.stderr.contains("README.md") && notVideo.stderr.contains("not a video"), notVideo.stderr)
    }
}
