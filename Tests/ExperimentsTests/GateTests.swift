import Experiments
import Foundation
import Store
import XCTest

final class GateTests: XCTestCase {
    func store() throws -> (ResultsStore, String) {
        let path = NSTemporaryDirectory() + "vipbench-gate-\(UUID().uuidString).sqlite"
        return (try ResultsStore(path: path), path)
    }

    func record(_ db: ResultsStore, key: String, seed: Int, top1: Double) throws {
        let p = RunProvenance(gitCommit: "c", gitDirty: false, host: "h", pid: 1, cpu: "cpu", blas: "b", blasThreads: 2,
                              swiftVersion: "s", commandLine: "test")
        let id = try db.beginRun(configuration: RowKey.configuration(profile: "smoke", key: key), profile: "smoke", seed: seed, provenance: p)
        try db.record(metrics: [MetricRecord(split: "val", spatialCrops: 3, temporalClips: 10, samplingRule: "slowfast-uniform",
                                             metric: "top1", variant: "video", value: top1),
                                  MetricRecord(split: "val", spatialCrops: 3, temporalClips: 10, samplingRule: "slowfast-uniform",
                                               metric: "top1", variant: "official", value: 0.99)], run: id)
        try db.finishRun(id, status: .finished)
    }

    func testGateCatchesADropAndPassesNoise() throws {
        let (db, path) = try store()
        defer { for s in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + s) } }
        let baseline = Baseline(profile: "smoke", entries: [
            .init(key: "row6", value: 0.30, seedSpread: 0.02, seeds: 3, tolerance: 0.05, why: "test"),
            .init(key: "row7", value: 0.40, seedSpread: 0.02, seeds: 3, tolerance: 0.05, why: "test"),
            .init(key: "ensemble", value: 0.45, seedSpread: 0.02, seeds: 3, tolerance: 0.05, why: "test"),
        ])
        for (s, v) in [(0, 0.29), (1, 0.31), (2, 0.28)] { try record(db, key: "row6", seed: s, top1: v) }
        for (s, v) in [(0, 0.50), (1, 0.30)] { try record(db, key: "row7", seed: s, top1: v) }
        try record(db, key: "row7", seed: 0, top1: 0.30)      // the latest run of seed 0 counts
        let m = try Gate.measure(baseline, store: db)
        XCTAssertEqual(m["row6"]!.mean, 0.88 / 3, accuracy: 1e-12)
        XCTAssertEqual(m["row7"]!.mean, 0.30, accuracy: 1e-12)
        XCTAssertEqual(m["row7"]!.seeds, [0, 1])
        let v = Gate.check(baseline, measured: m)
        XCTAssertEqual(v.failed.map(\.key), ["row7", "ensemble"])
        XCTAssertEqual(v.failed.first?.reason, "down by 10.0 points (tolerance 5.0)")
        XCTAssertEqual(v.failed.last?.reason, "no result recorded")
        XCTAssertEqual(Gate.check(baseline, measured: m, tolerance: 0.2).failed.map(\.key), ["ensemble"])

        let u = Gate.updated(baseline, measured: m)
        XCTAssertEqual(u.entries[0].value, 0.88 / 3, accuracy: 1e-12)
        XCTAssertEqual(u.entries[0].tolerance, max(0.02, 2 * u.entries[0].seedSpread), accuracy: 1e-12)
        XCTAssertEqual(u.entries[2], baseline.entries[2], "an entry without records is left alone")
        let file = NSTemporaryDirectory() + "vipbench-baseline-\(UUID().uuidString).json"
        defer { try? FileManager.default.removeItem(atPath: file) }
        try u.write(file)
        XCTAssertEqual(try Baseline.read(file), u)
    }

    /// A baseline created for a profile lists every row at its own views and the ensemble at its
    /// one fused view, and is filled from what the store holds.
    func testEmptyBaselineListsEveryRowAndFillsFromTheStore() throws {
        let (db, path) = try store()
        defer { for s in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + s) } }
        let empty = Baseline.empty(.smoke)
        XCTAssertEqual(empty.entries.map { "\($0.key) \($0.views)" },
                       ["row1 3x10", "row2 3x10", "row3 3x5", "row4 3x10", "row5 3x10", "row6 3x10", "row7 3x10", "ensemble 1x1"])
        for (s, v) in [(0, 0.20), (1, 0.30)] { try record(db, key: "row6", seed: s, top1: v) }
        let filled = Gate.updated(empty, measured: try Gate.measure(empty, store: db))
        let row6 = try XCTUnwrap(filled.entries.first { $0.key == "row6" })
        XCTAssertEqual(row6.value, 0.25, accuracy: 1e-12)
        XCTAssertEqual(row6.seeds, 2)
        XCTAssertEqual(row6.tolerance, 2 * (0.005 as Double).squareRoot(), accuracy: 1e-12)
        XCTAssertEqual(Gate.check(filled, measured: try Gate.measure(filled, store: db)).failed.map(\.key),
                       ["row1", "row2", "row3", "row4", "row5", "row7", "ensemble"], "rows without a result fail")
        // Seeds that agree by chance: the binomial spread of a top-1 over 50 videos sets the noise.
        for s in [0, 1] { try record(db, key: "row7", seed: s, top1: 0.34) }
        let agreed = Gate.updated(empty, measured: try Gate.measure(empty, store: db), validationVideos: 50)
        let row7 = try XCTUnwrap(agreed.entries.first { $0.key == "row7" })
        XCTAssertEqual(row7.seedSpread, 0)
        XCTAssertEqual(row7.tolerance, 2 * (0.34 * 0.66 / 50).squareRoot(), accuracy: 1e-12)
        XCTAssert(row7.why.contains("binomial spread of a top-1 over 50 videos"), row7.why)
        XCTAssertEqual(agreed.entries.first { $0.key == "row6" }?.tolerance ?? 0, 2 * (0.005 as Double).squareRoot(), accuracy: 1e-12,
                       "a measured spread larger than the binomial one stays")
    }
}
