import Foundation
import XCTest

/// `reproduce` killed with SIGKILL in the middle of a row's training and started again finishes
/// as an uninterrupted run does: the same figures, each result and each epoch of the curve
/// recorded once.
final class ReproduceCLITests: XCTestCase {
    func arguments(_ root: String, _ name: String) -> [String] {
        // Row 6 alone (RGB: no flow to extract) and no cost stage: the test is about resuming.
        ["reproduce", "--profile", "smoke", "--rows", "6", "--cost", "skip", "--data", root + "/data", "--db", root + "/\(name).sqlite",
         "--work", root + "/runs-\(name)", "--report", root + "/\(name).md"]
    }

    func csv(_ section: String, _ db: String) throws -> [[String]] {
        let r = try CLI.run(["results", "--\(section)", "--format", "csv", "--db", db])
        XCTAssertEqual(r.status, 0, r.stderr)
        return r.stdout.split(separator: "\n").dropFirst().map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
    }

    func testSigkillDuringTrainingThenRestartRecordsEverythingOnce() throws {
        let root = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let full = try CLI.run(arguments(root, "full"))
        XCTAssertEqual(full.status, 0, full.stderr)

        let (p, _, err) = try CLI.start(arguments(root, "cut"))
        final class Box: @unchecked Sendable { var text = ""; let lock = NSLock() }
        let box = Box()
        let handle = err.fileHandleForReading
        Thread {
            while case let d = handle.availableData, !d.isEmpty { box.lock.lock(); box.text += String(decoding: d, as: UTF8.self); box.lock.unlock() }
        }.start()
        func seen(_ s: String) -> Bool { box.lock.lock(); defer { box.lock.unlock() }; return box.text.contains(s) }
        let deadline = Date().addingTimeInterval(300)
        while !seen("train epoch 5:") && p.isRunning && Date() < deadline { usleep(20_000) }
        XCTAssertTrue(p.isRunning, "the run ended before it could be killed")
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationReason, .uncaughtSignal)
        XCTAssertEqual(try csv("runs", root + "/cut.sqlite").filter { $0[1] == "table1:smoke:row6" }.count, 0,
                       "nothing is recorded before the row's result")

        let again = try CLI.run(arguments(root, "cut"))
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertFalse(again.stderr.contains("train epoch 1:"), "training started over:\n" + again.stderr)
        XCTAssertTrue(again.stderr.contains("train epoch 15:"), again.stderr)

        // The same top-1 under every view scheme, one run, and the whole curve once with the
        // uninterrupted run's losses (timings aside).
        func metrics(_ db: String) throws -> [String] { try csv("metrics", db).map { $0.dropFirst().joined(separator: ",") } }
        XCTAssertEqual(try metrics(root + "/cut.sqlite"), try metrics(root + "/full.sqlite"))
        XCTAssertEqual(try csv("runs", root + "/cut.sqlite").filter { $0[1] == "table1:smoke:row6" }.count, 1)
        func curve(_ db: String) throws -> [String] { try csv("curves", db).map { [$0[1], $0[2], $0[3], $0[4], $0[5], $0[8]].joined(separator: " ") } }
        let a = try curve(root + "/full.sqlite"), b = try curve(root + "/cut.sqlite")
        XCTAssertEqual(a.count, 15, a.joined(separator: "\n"))
        XCTAssertEqual(b, a)

        // A third start finds everything done.
        let third = try CLI.run(arguments(root, "cut"))
        XCTAssertEqual(third.status, 0, third.stderr)
        XCTAssertFalse(third.stderr.contains("] test:"), third.stderr)
        XCTAssertEqual(try csv("curves", root + "/cut.sqlite").count, 15)
    }
}

final class ReproducePlanCLITests: XCTestCase {
    /// The plan counts a shared stage once: the flow extraction (rows 2-4). Rows 5 and 7 each
    /// pretrain their own backbone.
    func testDryRunCountsSharedStagesOnce() throws {
        let r = try CLI.run(["reproduce", "--profile", "paper", "--dry-run", "--no-measure", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let plans = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]])
        func clips(_ row: Int, _ kind: String) -> Double? {
            plans.compactMap { $0["stage"] as? [String: Any] }.first { $0["row"] as? Int == row && $0["kind"] as? String == kind }?["clips"] as? Double
        }
        XCTAssertEqual(clips(5, "pretrain"), 40_000 * 400 * 2 * 5)
        XCTAssertEqual(clips(7, "pretrain"), 40_000 * 400 * 2 * 5)
        XCTAssertEqual(clips(2, "flow"), 70_000 * 300)
        XCTAssertEqual(clips(3, "flow"), 0)
        XCTAssertEqual(clips(4, "flow"), 0)
        XCTAssertEqual(clips(7, "train"), 40_000 * 150)
    }

    /// A report path that is a folder is refused before any stage runs, naming what to give.
    func testReportThatIsAFolderIsRefusedUpFront() throws {
        let dir = NSTemporaryDirectory()
        let r = try CLI.run(["reproduce", "--profile", "smoke", "--report", dir])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("is a folder: give the report's file"), r.stderr)
        XCTAssertFalse(r.stderr.contains("train"), "nothing ran:\n" + r.stderr)
    }
}
