import Foundation
import XCTest
@testable import Store

final class StoreTests: XCTestCase {
    var dir: String!

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "vipbench-store-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: dir)
    }

    func sampleReference(row: Int = 1, value: Double = 51.3) -> ReferenceResult {
        ReferenceResult(source: "test", tableRow: row, model: "MViT-B", modality: "rgb", pretraining: "none",
                        resolution: 224, frames: 16, skip: 4, spatialCrops: 3, temporalClips: 10,
                        split: "val", metric: "top1", unit: "percent", value: value)
    }

    func provenance() -> RunProvenance {
        RunProvenance(gitCommit: "abc", gitDirty: false, host: ProcessInfo.processInfo.hostName,
                      pid: Int(ProcessInfo.processInfo.processIdentifier), cpu: "cpu", blas: "blas",
                      blasThreads: 1, swiftVersion: "6.3", commandLine: "test")
    }

    func testMigrationsFromEmptyFileCreateEveryTable() throws {
        let path = dir + "/empty.sqlite"
        FileManager.default.createFile(atPath: path, contents: Data())  // an empty file is an empty database
        let store = try ResultsStore(path: path)
        XCTAssertEqual(store.schemaVersion, Schema.version)
        let tables = Set(try store.db.query("SELECT name FROM sqlite_master WHERE type = 'table'")
            .compactMap { $0["name"].string })
        XCTAssertEqual(tables, ["reference_results", "runs", "metrics", "performance", "benchmarks", "artifacts", "training_epochs"])
        let mode = try store.db.query("PRAGMA journal_mode").first?.values.first?.string
        XCTAssertEqual(mode, "wal")
        // The runs table has every provenance column the issue asks for.
        let runColumns = Set(try store.db.query("PRAGMA table_info(runs)").compactMap { $0["name"].string })
        XCTAssertTrue(runColumns.isSuperset(of: ["configuration", "profile", "seed", "status", "started_at",
            "ended_at", "git_commit", "git_dirty", "host", "cpu", "blas", "blas_threads", "swift_version",
            "command_line"]))
    }

    func testReopeningDoesNotMigrateAgainAndKeepsData() throws {
        let path = dir + "/r.sqlite"
        try ResultsStore(path: path).importReference([sampleReference()])
        let again = try ResultsStore(path: path)
        XCTAssertEqual(again.schemaVersion, Schema.version)
        XCTAssertEqual(try again.referenceResults(), [sampleReference()])
    }

    func testMissingFolderIsCreated() throws {
        let path = dir + "/nested/deeper/store.sqlite"
        _ = try ResultsStore(path: path)
        XCTAssertTrue(FileManager.default.fileExists(atPath: path))
    }

    func testReferenceImportIsIdempotentAndUpdatesChangedValues() throws {
        let store = try ResultsStore(path: dir + "/ref.sqlite")
        let rows = (1...7).map { sampleReference(row: $0, value: Double(30 + $0)) }
        XCTAssertEqual(try store.importReference(rows), .init(inserted: 7, updated: 0, unchanged: 0))
        XCTAssertEqual(try store.importReference(rows), .init(inserted: 0, updated: 0, unchanged: 7))
        XCTAssertEqual(try store.referenceResults().count, 7)
        var changed = rows
        changed[2].value = 99
        XCTAssertEqual(try store.importReference(changed), .init(inserted: 0, updated: 1, unchanged: 6))
        XCTAssertEqual(try store.referenceResults().first { $0.tableRow == 3 }?.value, 99)
        XCTAssertEqual(try store.referenceResults().count, 7)
    }

    func testNonDatabaseFileIsRefusedAndLeftUntouched() throws {
        let path = dir + "/notes.sqlite"
        let contents = Data("label,videoid,split\nabseiling,abc,train\n".utf8)
        FileManager.default.createFile(atPath: path, contents: contents)
        XCTAssertThrowsError(try ResultsStore(path: path)) { error in
            guard case StoreError.notADatabase(let p, _) = error else { return XCTFail("wrong error \(error)") }
            XCTAssertEqual(p, path)
            XCTAssertTrue(String(describing: error).contains(path))
            XCTAssertTrue(String(describing: error).contains("untouched"))
        }
        XCTAssertEqual(FileManager.default.contents(atPath: path), contents)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path + "-wal"))
    }

    func testCorruptDatabaseBodyGivesAClearError() throws {
        let path = dir + "/corrupt.sqlite"
        // SQLite's header followed by garbage: passes the header check, fails inside SQLite.
        var bytes = SQLiteDatabase.magic
        bytes += (0..<4080).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        FileManager.default.createFile(atPath: path, contents: Data(bytes))
        XCTAssertThrowsError(try ResultsStore(path: path)) { error in
            XCTAssertTrue(String(describing: error).contains(path), "\(error)")
        }
        XCTAssertEqual(FileManager.default.contents(atPath: path), Data(bytes))
    }

    /// A store written by the first schema (before training curves) opens, gains the curves table
    /// and keeps its runs.
    func testVersionOneStoreMigratesAndKeepsItsRuns() throws {
        let path = dir + "/v1.sqlite"
        do {
            let db = try SQLiteDatabase(path: path)
            try db.execute(Schema.migrations[0] + "\nPRAGMA user_version = 1")
            try db.execute("""
                INSERT INTO runs (configuration, profile, seed, status, started_at, command_line)
                VALUES ('table1:mini:row6', 'mini', 0, 'finished', '2026-01-01T00:00:00Z', 'old')
                """)
        }
        let store = try ResultsStore(path: path)
        XCTAssertEqual(store.schemaVersion, Schema.version)
        XCTAssertEqual(try store.runs().map(\.configuration), ["table1:mini:row6"])
        let id = try store.runs()[0].id
        try store.record(epochs: [EpochCurveRecord(stage: "train", epoch: 0, step: 3, trainLoss: 2.2, lr: 0.05,
                                                   clipsPerSecond: 100, seconds: 1)], run: id)
        XCTAssertEqual(try store.epochs(run: id).map(\.step), [3])
    }

    /// Curves round-trip; an epoch recorded again replaces the earlier row (a resumed run redoes
    /// its unfinished epoch), and non-finite numbers are stored as NULL, not refused.
    func testTrainingCurvesRoundTripAndReplaceARedoneEpoch() throws {
        let store = try ResultsStore(path: dir + "/curves.sqlite")
        let id = try store.beginRun(configuration: "c", profile: "mini", seed: 0, provenance: provenance())
        let first = [
            EpochCurveRecord(stage: "pretrain", epoch: 0, step: 12, trainLoss: 80.5, lr: 1e-5, clipsPerSecond: 40, seconds: 3),
            EpochCurveRecord(stage: "train", epoch: 0, step: 13, trainLoss: 2.31, lr: 0.049, clipsPerSecond: 120, seconds: 1.5,
                             valTop1: 0.1, valTop5: 0.5, valLoss: 2.30),
            EpochCurveRecord(stage: "train", epoch: 1, step: 26, trainLoss: .nan, lr: 0.045, clipsPerSecond: .infinity, seconds: 1.4),
        ]
        try store.record(epochs: first, run: id)
        var got = try store.epochs(run: id)
        XCTAssertEqual(got.map(\.stage), ["pretrain", "train", "train"])
        XCTAssertEqual(got[1], { var e = first[1]; e.runID = id; return e }())
        XCTAssertNil(got[2].trainLoss)
        XCTAssertNil(got[2].clipsPerSecond)
        XCTAssertNil(got[2].valTop1)
        try store.record(epochs: [EpochCurveRecord(stage: "train", epoch: 1, step: 26, trainLoss: 2.0, lr: 0.045,
                                                   clipsPerSecond: 110, seconds: 1.4, valTop1: 0.3)], run: id)
        got = try store.epochs(run: id)
        XCTAssertEqual(got.count, 3)
        XCTAssertEqual(got[2].trainLoss, 2.0)
        XCTAssertEqual(got[2].valTop1, 0.3)
        let other = try store.beginRun(configuration: "d", profile: "mini", seed: 0, provenance: provenance())
        XCTAssertEqual(try store.epochs(run: other), [])
        XCTAssertEqual(try store.epochs().count, 3)
    }

    func testNewerSchemaIsRefusedAndLeftUntouched() throws {
        let path = dir + "/newer.sqlite"
        do {
            let db = try SQLiteDatabase(path: path)
            try db.execute("PRAGMA journal_mode = DELETE; CREATE TABLE future (x); PRAGMA user_version = \(Schema.version + 5)")
        }
        let before = FileManager.default.contents(atPath: path)
        XCTAssertThrowsError(try ResultsStore(path: path)) { error in
            XCTAssertEqual(error as? StoreError,
                           .newerSchema(path: path, found: Schema.version + 5, supported: Schema.version))
        }
        XCTAssertEqual(FileManager.default.contents(atPath: path), before)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path + "-wal"), "journal mode must not change")
    }

    func testRunLifecycleAndMetrics() throws {
        let store = try ResultsStore(path: dir + "/runs.sqlite")
        let id = try store.beginRun(configuration: "r3d18-rgb-scratch", profile: "tiny", seed: 7, provenance: provenance())
        XCTAssertEqual(try store.runs().first?.status, .running)
        let metrics = [
            MetricRecord(split: "val", spatialCrops: 3, temporalClips: 10, samplingRule: "slowfast-offset",
                         aggregation: "mean-softmax", metric: "top1", variant: "official", value: 0.5),
            MetricRecord(split: "val", spatialCrops: 1, temporalClips: 1, samplingRule: "slowfast-offset",
                         aggregation: "mean-softmax", metric: "mean_class_accuracy", variant: "official", value: nil),
        ]
        try store.record(metrics: metrics, run: id)
        try store.finishRun(id, status: .finished)
        let run = try XCTUnwrap(store.runs().first)
        XCTAssertEqual(run.status, .finished)
        XCTAssertEqual(run.seed, 7)
        XCTAssertNotNil(run.endedAt)
        XCTAssertEqual(run.provenance, provenance())
        var expected = metrics
        for i in expected.indices { expected[i].runID = id }
        XCTAssertEqual(try store.metrics(run: id), expected)
        // Recording the same metric again replaces it rather than duplicating it.
        var again = metrics[0]
        again.value = 0.6
        try store.record(metrics: [again], run: id)
        XCTAssertEqual(try store.metrics(run: id).count, 2)
        XCTAssertEqual(try store.metrics(run: id).first?.value, 0.6)
    }

    func testAFailedBatchWritesNothing() throws {
        let store = try ResultsStore(path: dir + "/atomic.sqlite")
        let id = try store.beginRun(configuration: "c", profile: "p", seed: nil, provenance: provenance())
        struct Boom: Error {}
        XCTAssertThrowsError(try store.db.transaction {
            try store.db.query("INSERT INTO metrics (run_id, split, spatial_crops, temporal_clips, sampling_rule, metric, value) VALUES (?, 'val', 1, 1, 'r', 'top1', 0.5)", [.integer(id)])
            throw Boom()
        })
        XCTAssertEqual(try store.metrics(run: id).count, 0)
    }

    func testPerformanceBenchmarksAndArtifactsRoundTrip() throws {
        let store = try ResultsStore(path: dir + "/perf.sqlite")
        let id = try store.beginRun(configuration: "c", profile: "full", seed: nil, provenance: provenance())
        let p = PerformanceRecord(runID: id, model: "r3d18", inputShape: "3x16x112x112", gmacsPerView: 40.7,
                                  parameters: 33_371_472, clipsPerSecond: 1.5, latencySeconds: 0.66,
                                  peakRSSBytes: 1 << 30, threads: 2)
        try store.record(performance: [p], run: id)
        XCTAssertEqual(try store.performance(run: id), [p])
        let b = BenchmarkRecord(runID: id, name: "x", threads: 2, value: 150, unit: "GFLOP/s", baseline: "y", ratio: 0.9)
        try store.record(benchmarks: [b], run: id)
        XCTAssertEqual(try store.benchmarks(run: id), [b])
        let a = ArtifactRecord(runID: id, path: "results/plots/table1.png", kind: "plot", sha256: SHA256.hex([UInt8]()))
        try store.record(artifacts: [a])
        XCTAssertEqual(try store.artifacts(), [a])
    }

    func testPathResolutionPrefersFlagThenEnvironment() {
        XCTAssertEqual(ResultsStore.resolvePath("a.sqlite", environment: ["VIPBENCH_DB": "b.sqlite"]), "a.sqlite")
        XCTAssertEqual(ResultsStore.resolvePath(nil, environment: ["VIPBENCH_DB": "b.sqlite"]), "b.sqlite")
        XCTAssertEqual(ResultsStore.resolvePath(nil, environment: [:]), "results/vipbench.sqlite")
    }

    func testSHA256MatchesStandardVectors() {
        XCTAssertEqual(SHA256.hex([UInt8]()), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(SHA256.hex(Array("abc".utf8)), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(SHA256.hex(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)),
                       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        XCTAssertEqual(SHA256.hex([UInt8](repeating: 0x61, count: 1_000_000)),
                       "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }
}
