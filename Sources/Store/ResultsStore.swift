import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The results store: every number vipbench produces, with the configuration, seed, commit and
/// machine that produced it. One SQLite file in WAL mode; each logical write is one transaction.
public final class ResultsStore {
    public let db: SQLiteDatabase
    public var path: String { db.path }

    /// The default location, relative to the working directory.
    public static let defaultPath = "results/vipbench.sqlite"

    /// `--db` if given, else `VIPBENCH_DB`, else `results/vipbench.sqlite`.
    public static func resolvePath(_ explicit: String?,
                                   environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let explicit, !explicit.isEmpty { return explicit }
        if let env = environment["VIPBENCH_DB"], !env.isEmpty { return env }
        return defaultPath
    }

    /// Opens the store, creating it and applying migrations as needed.
    ///
    /// A file that is not SQLite, or whose schema is newer than this build knows, is refused
    /// before anything is written to it.
    public init(path: String) throws {
        db = try SQLiteDatabase(path: path)
        // Switching to WAL and migrating take exclusive locks, and SQLite answers BUSY at once
        // (without its busy handler) when another process is creating the same file: retry.
        try ResultsStore.retryingWhileBusy(path: path) { [db] in
            let found = try ResultsStore.version(of: db)
            if found > Schema.version {
                throw StoreError.newerSchema(path: path, found: found, supported: Schema.version)
            }
            try db.execute("PRAGMA foreign_keys = ON")
            let current = try db.query("PRAGMA journal_mode").first?.values.first?.string?.lowercased()
            if current != "wal" {
                let mode = try db.query("PRAGMA journal_mode = WAL").first?.values.first?.string
                if mode?.lowercased() != "wal" {
                    throw StoreError.invalid(path: path, message: "cannot switch to WAL mode (got \(mode ?? "nothing"))")
                }
            }
            try db.execute("PRAGMA synchronous = NORMAL")
        }
        if try currentVersion() < Schema.version {
            try ResultsStore.retryingWhileBusy(path: path) { try migrate() }
        }
    }

    /// Retries `body` while SQLite reports BUSY or LOCKED, for up to `seconds`.
    static func retryingWhileBusy(path: String, seconds: Double = 60, _ body: () throws -> Void) throws {
        let deadline = Date().addingTimeInterval(seconds)
        var delay: UInt32 = 2_000
        while true {
            do {
                try body()
                return
            } catch StoreError.sqlite(_, let code, _, _) where (code & 0xff == 5 || code & 0xff == 6) && Date() < deadline {
                usleep(delay)
                delay = min(delay * 2, 100_000)
            }
        }
    }

    static func version(of db: SQLiteDatabase) throws -> Int {
        try db.query("PRAGMA user_version").first?.values.first?.int ?? 0
    }

    func currentVersion() throws -> Int { try ResultsStore.version(of: db) }

    /// Applies the missing migrations in one transaction (a second process racing us waits, then
    /// finds nothing left to do).
    func migrate() throws {
        try db.transaction {
            let found = try currentVersion()
            if found > Schema.version {
                throw StoreError.newerSchema(path: path, found: found, supported: Schema.version)
            }
            for v in found..<Schema.version {
                try db.execute(Schema.migrations[v])
                try db.execute("PRAGMA user_version = \(v + 1)")
            }
        }
    }

    /// The schema version stored in the file.
    public var schemaVersion: Int { (try? currentVersion()) ?? 0 }

    static func now() -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f.string(from: Date())
    }

    // MARK: Reference numbers

    /// What an import changed.
    public struct ImportSummary: Equatable, Sendable {
        public var inserted = 0
        public var updated = 0
        public var unchanged = 0
    }

    /// Inserts or updates reference numbers, keyed by (source, row, split, metric). Importing the
    /// same table twice changes nothing.
    @discardableResult
    public func importReference(_ rows: [ReferenceResult]) throws -> ImportSummary {
        try db.transaction {
            var summary = ImportSummary()
            let stamp = ResultsStore.now()
            for r in rows {
                let key: [SQLValue] = [.text(r.source), SQLValue(r.tableRow), .text(r.split), .text(r.metric)]
                let existing = try db.query("""
                    SELECT * FROM reference_results WHERE source = ? AND table_row = ? AND split = ? AND metric = ?
                    """, key)
                let values: [SQLValue] = [
                    .text(r.model), .text(r.modality), .text(r.pretraining), SQLValue(r.resolution),
                    SQLValue(r.frames), SQLValue(r.skip), SQLValue(r.spatialCrops), SQLValue(r.temporalClips),
                    .text(r.unit), .real(r.value),
                ]
                if let row = existing.first {
                    if ResultsStore.reference(from: row) == r { summary.unchanged += 1; continue }
                    try db.query("""
                        UPDATE reference_results SET model = ?, modality = ?, pretraining = ?, resolution = ?,
                          frames = ?, skip = ?, spatial_crops = ?, temporal_clips = ?, unit = ?, value = ?,
                          imported_at = ?
                        WHERE id = ?
                        """, values + [.text(stamp), row["id"]])
                    summary.updated += 1
                } else {
                    try db.query("""
                        INSERT INTO reference_results (source, table_row, split, metric, model, modality,
                          pretraining, resolution, frames, skip, spatial_crops, temporal_clips, unit, value,
                          imported_at)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                        """, key + values + [.text(stamp)])
                    summary.inserted += 1
                }
            }
            return summary
        }
    }

    static func reference(from row: SQLRow) -> ReferenceResult {
        ReferenceResult(
            source: row["source"].string ?? "", tableRow: row["table_row"].int ?? 0,
            model: row["model"].string ?? "", modality: row["modality"].string ?? "",
            pretraining: row["pretraining"].string ?? "", resolution: row["resolution"].int ?? 0,
            frames: row["frames"].int ?? 0, skip: row["skip"].int ?? 0,
            spatialCrops: row["spatial_crops"].int ?? 0, temporalClips: row["temporal_clips"].int ?? 0,
            split: row["split"].string ?? "", metric: row["metric"].string ?? "",
            unit: row["unit"].string ?? "", value: row["value"].double ?? .nan)
    }

    public func referenceResults() throws -> [ReferenceResult] {
        try db.query("SELECT * FROM reference_results ORDER BY source, table_row, split, metric")
            .map(ResultsStore.reference(from:))
    }

    // MARK: Runs

    /// Records a run as `running` and returns its id. Until `finishRun` it stays visibly unfinished.
    public func beginRun(configuration: String, profile: String, seed: Int?,
                         provenance: RunProvenance) throws -> Int64 {
        try db.transaction {
            let p = provenance
            try db.query("""
                INSERT INTO runs (configuration, profile, seed, status, started_at, git_commit, git_dirty,
                  host, pid, cpu, blas, blas_threads, swift_version, command_line)
                VALUES (?, ?, ?, 'running', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, [.text(configuration), .text(profile), SQLValue(seed), .text(ResultsStore.now()),
                      SQLValue(p.gitCommit), p.gitDirty.map { SQLValue($0) } ?? .null, .text(p.host),
                      SQLValue(p.pid), .text(p.cpu), .text(p.blas), SQLValue(p.blasThreads),
                      .text(p.swiftVersion), .text(p.commandLine)])
            return db.lastInsertRowID
        }
    }

    public func finishRun(_ id: Int64, status: RunStatus, message: String? = nil) throws {
        try db.transaction {
            try db.query("UPDATE runs SET status = ?, ended_at = ?, message = ? WHERE id = ?",
                         [.text(status.rawValue), .text(ResultsStore.now()), SQLValue(message), .integer(id)])
        }
    }

    /// Every run, or those of one configuration (a query, so it does not grow with the store).
    public func runs(configuration: String? = nil) throws -> [RunRecord] {
        let host = ProcessInfo.processInfo.hostName
        let rows = try configuration.map { try db.query("SELECT * FROM runs WHERE configuration = ? ORDER BY id", [.text($0)]) }
            ?? db.query("SELECT * FROM runs ORDER BY id")
        return rows.map { row in
            let status = RunStatus(rawValue: row["status"].string ?? "") ?? .failed
            let pid = row["pid"].int ?? 0
            var display = status.rawValue
            if status == .running, row["host"].string == host, pid > 0, !ResultsStore.processAlive(pid) {
                display = "interrupted"
            }
            return RunRecord(
                id: Int64(row["id"].int ?? 0), configuration: row["configuration"].string ?? "",
                profile: row["profile"].string ?? "", seed: row["seed"].int, status: status,
                startedAt: row["started_at"].string ?? "", endedAt: row["ended_at"].string,
                provenance: RunProvenance(
                    gitCommit: row["git_commit"].string, gitDirty: row["git_dirty"].int.map { $0 != 0 },
                    host: row["host"].string ?? "", pid: pid, cpu: row["cpu"].string ?? "",
                    blas: row["blas"].string ?? "", blasThreads: row["blas_threads"].int ?? 0,
                    swiftVersion: row["swift_version"].string ?? "",
                    commandLine: row["command_line"].string ?? ""),
                message: row["message"].string, displayStatus: display)
        }
    }

    static func processAlive(_ pid: Int) -> Bool {
        kill(pid_t(pid), 0) == 0 || errno == EPERM
    }

    // MARK: Metrics, performance, benchmarks, artifacts

    /// Records a set of metrics for a run in one transaction: all of them, or none.
    /// `beforeCommit` runs inside the transaction, after the inserts (tests use it to kill a writer
    /// mid-transaction).
    public func record(metrics: [MetricRecord], run: Int64, beforeCommit: () -> Void = {}) throws {
        try db.transaction {
            defer { beforeCommit() }
            for m in metrics {
                try db.query("""
                    INSERT INTO metrics (run_id, split, spatial_crops, temporal_clips, sampling_rule,
                      aggregation, metric, variant, value)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (run_id, split, spatial_crops, temporal_clips, sampling_rule, aggregation,
                      metric, variant) DO UPDATE SET value = excluded.value
                    """, [.integer(run), .text(m.split), SQLValue(m.spatialCrops), SQLValue(m.temporalClips),
                          .text(m.samplingRule), .text(m.aggregation), .text(m.metric), .text(m.variant),
                          SQLValue(m.value)])
            }
        }
    }

    public func metrics(run: Int64? = nil) throws -> [MetricRecord] {
        let rows = try run.map {
            try db.query("SELECT * FROM metrics WHERE run_id = ? ORDER BY id", [.integer($0)])
        } ?? db.query("SELECT * FROM metrics ORDER BY run_id, id")
        return rows.map { r in
            MetricRecord(runID: r["run_id"].int.map(Int64.init), split: r["split"].string ?? "",
                         spatialCrops: r["spatial_crops"].int ?? 0, temporalClips: r["temporal_clips"].int ?? 0,
                         samplingRule: r["sampling_rule"].string ?? "", aggregation: r["aggregation"].string ?? "",
                         metric: r["metric"].string ?? "", variant: r["variant"].string ?? "",
                         value: r["value"].double)
        }
    }

    public func record(performance: [PerformanceRecord], run: Int64) throws {
        try db.transaction {
            for p in performance {
                try db.query("""
                    INSERT INTO performance (run_id, model, mode, input_shape, batch, gmacs_per_view, parameters,
                      clips_per_second, latency_s, peak_rss_bytes, threads, width, scale)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """, [.integer(run), .text(p.model), .text(p.mode), .text(p.inputShape), SQLValue(p.batch),
                          SQLValue(p.gmacsPerView), SQLValue(p.parameters), SQLValue(p.clipsPerSecond),
                          SQLValue(p.latencySeconds), SQLValue(p.peakRSSBytes), SQLValue(p.threads),
                          SQLValue(p.width), SQLValue(p.scale)])
            }
        }
    }

    public func performance(run: Int64? = nil) throws -> [PerformanceRecord] {
        let rows = try run.map {
            try db.query("SELECT * FROM performance WHERE run_id = ? ORDER BY id", [.integer($0)])
        } ?? db.query("SELECT * FROM performance ORDER BY run_id, id")
        return rows.map { r in
            PerformanceRecord(runID: r["run_id"].int.map(Int64.init), model: r["model"].string ?? "",
                              mode: r["mode"].string ?? "", inputShape: r["input_shape"].string ?? "",
                              batch: r["batch"].int ?? 1, gmacsPerView: r["gmacs_per_view"].double,
                              parameters: r["parameters"].int, clipsPerSecond: r["clips_per_second"].double,
                              latencySeconds: r["latency_s"].double, peakRSSBytes: r["peak_rss_bytes"].int,
                              threads: r["threads"].int, width: r["width"].double, scale: r["scale"].string)
        }
    }

    public func record(benchmarks: [BenchmarkRecord], run: Int64) throws {
        try db.transaction {
            for b in benchmarks {
                try db.query("""
                    INSERT INTO benchmarks (run_id, name, threads, value, unit, baseline, ratio)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    """, [.integer(run), .text(b.name), SQLValue(b.threads), .real(b.value), .text(b.unit),
                          SQLValue(b.baseline), SQLValue(b.ratio)])
            }
        }
    }

    public func benchmarks(run: Int64? = nil) throws -> [BenchmarkRecord] {
        let rows = try run.map {
            try db.query("SELECT * FROM benchmarks WHERE run_id = ? ORDER BY id", [.integer($0)])
        } ?? db.query("SELECT * FROM benchmarks ORDER BY run_id, id")
        return rows.map { r in
            BenchmarkRecord(runID: r["run_id"].int.map(Int64.init), name: r["name"].string ?? "",
                            threads: r["threads"].int, value: r["value"].double ?? .nan,
                            unit: r["unit"].string ?? "", baseline: r["baseline"].string, ratio: r["ratio"].double)
        }
    }

    /// Records training curves in one transaction; an epoch recorded again for the same run and
    /// stage replaces the earlier row (a resumed run redoes its unfinished epoch).
    public func record(epochs: [EpochCurveRecord], run: Int64) throws {
        try db.transaction {
            for e in epochs {
                try db.query("""
                    INSERT OR REPLACE INTO training_epochs (run_id, stage, epoch, step, train_loss, lr, clips_per_second,
                      seconds, val_top1, val_top5, val_loss)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """, [.integer(run), .text(e.stage), SQLValue(e.epoch), SQLValue(e.step), SQLValue(e.trainLoss?.finite),
                          SQLValue(e.lr?.finite), SQLValue(e.clipsPerSecond?.finite), SQLValue(e.seconds?.finite),
                          SQLValue(e.valTop1), SQLValue(e.valTop5), SQLValue(e.valLoss?.finite)])
            }
        }
    }

    public func epochs(run: Int64? = nil) throws -> [EpochCurveRecord] {
        let rows = try run.map {
            try db.query("SELECT * FROM training_epochs WHERE run_id = ? ORDER BY stage, epoch", [.integer($0)])
        } ?? db.query("SELECT * FROM training_epochs ORDER BY run_id, stage, epoch")
        return rows.map { r in
            EpochCurveRecord(runID: r["run_id"].int.map(Int64.init), stage: r["stage"].string ?? "", epoch: r["epoch"].int ?? 0,
                             step: r["step"].int ?? 0, trainLoss: r["train_loss"].double, lr: r["lr"].double,
                             clipsPerSecond: r["clips_per_second"].double, seconds: r["seconds"].double,
                             valTop1: r["val_top1"].double, valTop5: r["val_top5"].double, valLoss: r["val_loss"].double)
        }
    }

    /// Records files (with their SHA-256) in one transaction.
    public func record(artifacts: [ArtifactRecord]) throws {
        try db.transaction {
            for a in artifacts {
                try db.query("INSERT INTO artifacts (run_id, path, kind, sha256, created_at) VALUES (?, ?, ?, ?, ?)",
                             [a.runID.map { .integer($0) } ?? .null, .text(a.path), .text(a.kind),
                              .text(a.sha256), .text(ResultsStore.now())])
            }
        }
    }

    /// Every artifact, or those of one run.
    public func artifacts(run: Int64? = nil) throws -> [ArtifactRecord] {
        let rows = try run.map { try db.query("SELECT * FROM artifacts WHERE run_id = ? ORDER BY id", [.integer($0)]) }
            ?? db.query("SELECT * FROM artifacts ORDER BY id")
        return rows.map { r in
            ArtifactRecord(runID: r["run_id"].int.map(Int64.init), path: r["path"].string ?? "",
                           kind: r["kind"].string ?? "", sha256: r["sha256"].string ?? "")
        }
    }
}

extension Double {
    /// nil for NaN and the infinities, which SQLite would store as NULL or reject.
    var finite: Double? { isFinite ? self : nil }
}
