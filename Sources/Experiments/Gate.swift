import Foundation
import Store

/// The accuracy-regression gate: the latest recorded figure of each row against a committed
/// baseline (`results/baselines/<profile>.json`).
///
/// A row's result is a run whose configuration is `RowKey.configuration(profile, row, seed)` with a
/// validation metric `top1` (views and rule as the baseline says); a row's figure is the mean over
/// the seeds of its latest runs. The tolerance of a row is its own (from the spread measured over
/// seeds when the baseline was set), or the one given on the command line.
public struct Baseline: Codable, Equatable, Sendable {
    public struct Entry: Codable, Equatable, Sendable {
        /// "row6", ..., or "ensemble".
        public var key: String
        public var metric: String
        /// The metric's variant: `video` (accuracy over videos), `official` or `all-class`.
        public var variant: String
        public var views: String
        public var value: Double
        /// Standard deviation over the seeds when the baseline was set.
        public var seedSpread: Double
        public var seeds: Int
        public var tolerance: Double
        public var why: String

        public init(key: String, metric: String = "top1", variant: String = "video", views: String = "3x10", value: Double,
                    seedSpread: Double, seeds: Int, tolerance: Double, why: String) {
            self.key = key; self.metric = metric; self.variant = variant; self.views = views; self.value = value; self.seedSpread = seedSpread
            self.seeds = seeds; self.tolerance = tolerance; self.why = why
        }
    }

    public var profile: String
    public var entries: [Entry]

    public init(profile: String, entries: [Entry]) { self.profile = profile; self.entries = entries }

    public static func read(_ path: String) throws -> Baseline {
        guard let data = FileManager.default.contents(atPath: path) else { throw GateError.file(path, "cannot be read") }
        do { return try JSONDecoder().decode(Baseline.self, from: data) } catch {
            throw GateError.file(path, "is not a baseline: \(error)")
        }
    }

    /// An empty baseline for a profile: every row at its own views, and the ensemble (one fused
    /// view), with no figure yet; `check --update` fills it from the store.
    public static func empty(_ profile: Profile) -> Baseline {
        let rows = Table1Row.allCases.map { r in
            Entry(key: "row\(r.rawValue)", views: Table1Configurations.row(r, profile: profile, classes: 10).test.views, value: 0,
                  seedSpread: 0, seeds: 0, tolerance: 0, why: "not measured yet")
        }
        return Baseline(profile: profile.rawValue, entries: rows + [Entry(key: "ensemble", views: "1x1", value: 0, seedSpread: 0, seeds: 0,
                                                                          tolerance: 0, why: "not measured yet")])
    }

    public func write(_ path: String) throws {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        try (e.encode(self) + Data("\n".utf8)).write(to: URL(fileURLWithPath: path), options: .atomic)
    }
}

public enum GateError: Error, CustomStringConvertible {
    case file(String, String)
    public var description: String {
        switch self { case .file(let p, let m): return "\(p): \(m)" }
    }
}

/// How the runner names the runs of a row, so the gate can find them.
public enum RowKey {
    public static func configuration(profile: String, key: String) -> String { "table1:\(profile):\(key)" }
}

/// The recorded figure of one baseline entry: mean and spread over the seeds of its latest runs.
public struct Measured: Equatable, Sendable {
    public var mean: Double
    public var spread: Double
    public var seeds: [Int]
}

public struct GateVerdict: Equatable, Sendable {
    public struct Line: Equatable, Sendable {
        public var key: String
        public var baseline: Double
        public var measured: Measured?
        public var tolerance: Double
        /// Dropped by more than the tolerance, or nothing recorded.
        public var failed: Bool
        public var reason: String
    }
    public var lines: [Line]
    public var failed: [Line] { lines.filter(\.failed) }
}

public enum Gate {
    /// The latest finished run per seed for each baseline entry, from the store.
    public static func measure(_ baseline: Baseline, store: ResultsStore) throws -> [String: Measured] {
        var out: [String: Measured] = [:]
        for e in baseline.entries {
            // Only this entry's runs and their latest runs' metrics are read, not the whole store.
            let config = RowKey.configuration(profile: baseline.profile, key: e.key)
            var latestBySeed: [Int: Int64] = [:]
            for r in try store.runs(configuration: config) where r.status == .finished {
                latestBySeed[r.seed ?? 0] = max(latestBySeed[r.seed ?? 0] ?? 0, r.id)
            }
            let parts = e.views.split(separator: "x").compactMap { Int($0) }
            var values: [(Int, Double)] = []
            for (seed, id) in latestBySeed.sorted(by: { $0.key < $1.key }) {   // a fixed summation order
                if let m = try store.metrics(run: id).first(where: { $0.split == "val" && $0.metric == e.metric && $0.variant == e.variant
                    && [$0.spatialCrops, $0.temporalClips] == parts }), let v = m.value {
                    values.append((seed, v))
                }
            }
            guard let m = MeanAndSpread(values.map(\.1)) else { continue }
            out[e.key] = Measured(mean: m.mean, spread: m.sd, seeds: values.map(\.0).sorted())
        }
        return out
    }

    /// Compares: a row fails when its mean dropped by more than its tolerance, or has no record.
    public static func check(_ baseline: Baseline, measured: [String: Measured], tolerance override: Double? = nil) -> GateVerdict {
        GateVerdict(lines: baseline.entries.map { e in
            let tol = override ?? e.tolerance
            guard let m = measured[e.key] else {
                return .init(key: e.key, baseline: e.value, measured: nil, tolerance: tol, failed: true, reason: "no result recorded")
            }
            let drop = e.value - m.mean
            let failed = drop > tol
            let reason = String(format: "%@ by %.1f points (tolerance %.1f)", drop >= 0 ? "down" : "up", 100 * abs(drop), 100 * tol)
            return .init(key: e.key, baseline: e.value, measured: m, tolerance: tol, failed: failed, reason: reason)
        })
    }

    /// A new baseline from what is recorded: tolerance = max(floor, k x noise / sqrt(checkedSeeds)),
    /// the noise being the standard deviation of one seed's figure, so that a check over
    /// `checkedSeeds` seeds fails on a drop of k standard errors and not on seed noise.
    ///
    /// A few seeds can agree by chance (three seeds at the same top-1 measure no spread at all), so
    /// with `validationVideos` the noise is at least the binomial standard deviation of a top-1
    /// over that many videos, sqrt(p (1 - p) / n): what another machine's rounding alone can move.
    public static func updated(_ baseline: Baseline, measured: [String: Measured], floor: Double = 0.02, k: Double = 2,
                               checkedSeeds: Int = 1, validationVideos: Int? = nil) -> Baseline {
        var b = baseline
        for i in b.entries.indices {
            guard let m = measured[b.entries[i].key] else { continue }
            let binomial = validationVideos.map { (m.mean * (1 - m.mean) / Double(max($0, 1))).squareRoot() } ?? 0
            let noise = max(m.spread, binomial)
            let se = noise / Double(max(checkedSeeds, 1)).squareRoot()
            b.entries[i].value = m.mean
            b.entries[i].seedSpread = m.spread
            b.entries[i].seeds = m.seeds.count
            b.entries[i].tolerance = max(floor, k * se)
            b.entries[i].why = String(format: "%d seeds, one seed's spread %.1f points", m.seeds.count, 100 * m.spread)
                + (validationVideos.map { String(format: " (at least %.1f, the binomial spread of a top-1 over %d videos)", 100 * binomial, $0) } ?? "")
                + String(format: ": %.0f standard errors of a %d-seed check, at least %.0f points", k, checkedSeeds, 100 * floor)
        }
        return b
    }
}
