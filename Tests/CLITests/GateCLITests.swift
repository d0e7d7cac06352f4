import Foundation
import XCTest

/// `make test` runs the smoke profile of the Table 1 runner and the regression gate against the
/// committed baseline; and the gate catches a deliberately broken pipeline.
final class GateCLITests: XCTestCase {
    static let root: String = {
        let dir = NSTemporaryDirectory() + "vipbench-gate-cli-\(ProcessInfo.processInfo.processIdentifier)"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }()

    func reproduce(_ name: String, extra: [String] = []) throws -> CLI.Result {
        let r = Self.root
        return try CLI.run(["reproduce", "--profile", "smoke", "--data", r + "/data", "--flow", r + "/flow", "--db", r + "/\(name).sqlite",
                            "--work", r + "/runs-\(name)", "--report", r + "/\(name).md"] + extra)
    }

    func check(_ name: String) throws -> CLI.Result {
        try CLI.run(["check", "--baseline", CLI.packageRoot + "/results/baselines/smoke.json", "--db", Self.root + "/\(name).sqlite"])
    }

    func testSmokeProfilePassesTheGateAndABrokenPipelineFailsIt() throws {
        let good = try reproduce("good")
        XCTAssertEqual(good.status, 0, good.stderr)
        let report = try String(contentsOfFile: Self.root + "/good.md", encoding: .utf8)
        XCTAssertTrue(report.contains("| 4 | `row4_r3d18_flow_scratch_8x4x3x10_smoke` | 31.9 (paper's)"), report)
        // Rows 5 and 7 pretrain their own backbones (R3D-50, TCLR's R3D-18) with TCLR.
        XCTAssertEqual(good.stderr.components(separatedBy: "] pretrain epoch 1:").count - 1, 2, good.stderr)
        let gate = try check("good")
        XCTAssertEqual(gate.status, 0, gate.stdout + gate.stderr)

        // A second run redoes nothing and records nothing twice.
        let again = try reproduce("good")
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertFalse(again.stderr.contains("] test:"), "scores were computed again:\n" + again.stderr)
        let runs = try CLI.run(["results", "--runs", "--format", "csv", "--db", Self.root + "/good.sqlite"])
        XCTAssertEqual(runs.stdout.split(separator: "\n").filter { $0.contains("table1:smoke:row4,") }.count, 1, runs.stdout)
        XCTAssertEqual(runs.stdout.split(separator: "\n").filter { $0.contains("table1:smoke:row4:cost,") }.count, 1, runs.stdout)
        XCTAssertTrue(report.contains("## Cost") && report.contains("| 4 | smoke | train-step | 2x8x32x32 | 0.125 | 8 | 521444 |"), report)
        for plot in ["reproduced", "curves", "cost", "tclr", "ensemble", "seeds"] {
            let png = FileManager.default.contents(atPath: Self.root + "/plots/\(plot)-smoke.png") ?? Data()
            XCTAssertEqual(Array(png.prefix(4)), [0x89, 0x50, 0x4e, 0x47], "\(plot)-smoke.png is not a PNG")
        }

        // Only row 4 learns within smoke's budget (the baseline's other rows sit at chance), so the
        // broken pipeline is run for row 4 alone: the gate must name its drop.
        let broken = try reproduce("broken", extra: ["--sabotage", "labels", "--rows", "4"])
        XCTAssertEqual(broken.status, 0, broken.stderr)
        let caught = try check("broken")
        XCTAssertEqual(caught.status, 1, caught.stdout + caught.stderr)
        XCTAssertTrue(caught.stderr.contains("accuracy regression in") && caught.stderr.contains("row4 (down by"), caught.stderr)
    }
}
