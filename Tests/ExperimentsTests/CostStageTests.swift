import Experiments
import Foundation
import Models
import Store
import XCTest

final class CostStageTests: XCTestCase {
    func provenance(commit: String) -> RunProvenance {
        RunProvenance(gitCommit: commit, gitDirty: false, host: "h", pid: 1, cpu: "cpu", blas: "b", blasThreads: 2,
                      swiftVersion: "s", commandLine: "test")
    }

    /// A mini row measures its training step and test view at its own size and at the paper's;
    /// a shape two rows share is measured once; a rerun on the same commit and host measures
    /// nothing and returns what was recorded; another commit measures again.
    func testCostIsMeasuredOncePerCommitAndRecordedWithItsScale() throws {
        let path = NSTemporaryDirectory() + "vipbench-cost-\(UUID().uuidString).sqlite"
        defer { for s in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + s) } }
        let db = try ResultsStore(path: path)
        let rows: [Table1Row] = [.r3d18, .r3d18TCLR]
        let mini = rows.map { Table1Configurations.row($0, profile: .mini, classes: 10) }
        var paper: [Table1Row: RowConfiguration] = [:]
        for r in rows { paper[r] = Table1Configurations.row(r, profile: .paper, classes: 10) }

        XCTAssertEqual(CostStage.shapes(mini[0], paper: paper[.r3d18]).map { "\($0.scale) \($0.training) \($0.input) \($0.batch) \($0.width)" },
                       ["mini true [3, 8, 32, 32] 16 0.125", "mini false [3, 8, 32, 32] 16 0.125",
                        "paper true [3, 16, 112, 112] 1 1.0", "paper false [3, 16, 112, 112] 1 1.0"])

        var calls: [CostStage.Shape] = []
        let measure: CostStage.Measure = { s in
            calls.append(s)
            return PerformanceRecord(model: s.model.rawValue, mode: s.training ? "train-step" : "inference",
                                     inputShape: s.input.map(String.init).joined(separator: "x"), batch: s.batch,
                                     gmacsPerView: 1, parameters: 100, clipsPerSecond: Double(calls.count), threads: 2)
        }
        let first = try CostStage.run(mini, paper: paper, store: db, provenance: provenance(commit: "a"), measure: measure) { _, _ in }
        // Row 7's network is TCLR's R3D-18: its own shapes, so 8 measurements in all.
        XCTAssertEqual(calls.count, 8)
        XCTAssertEqual(first[.r3d18]?.map(\.scale), ["mini", "mini", "paper", "paper"])
        XCTAssertEqual(first[.r3d18]?.first?.width, 0.125)
        XCTAssertNil(first[.r3d18]?.last?.width, "the paper's width is stored as 1 (NULL)")
        let recorded = try db.runs(configuration: "table1:mini:row6:cost")
        XCTAssertEqual(recorded.count, 1)
        XCTAssertEqual(try db.performance(run: recorded[0].id).map(\.clipsPerSecond), first[.r3d18]?.map(\.clipsPerSecond))

        let again = try CostStage.run(mini, paper: paper, store: db, provenance: provenance(commit: "a"), measure: measure) { _, _ in }
        XCTAssertEqual(calls.count, 8, "a rerun on the same commit and host measured again")
        XCTAssertEqual(again[.r3d18], first[.r3d18].map { $0.map { var r = $0; r.runID = recorded[0].id; return r } })

        _ = try CostStage.run([mini[0]], paper: paper, store: db, provenance: provenance(commit: "b"), measure: measure) { _, _ in }
        XCTAssertEqual(calls.count, 12)
        XCTAssertEqual(try db.runs(configuration: "table1:mini:row6:cost").count, 2)
    }
}
