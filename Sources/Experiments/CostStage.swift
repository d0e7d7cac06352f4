import Foundation
import Models
import Store

/// The cost stage: what each row's network costs, at the profile's size and at the paper's —
/// parameters and GMACs per view (counted), clips/s and peak memory (measured here) — for its
/// training step and its test view, recorded as the run `table1:<profile>:rowN:cost`.
///
/// Throughput depends on the code and the machine, so a row's cost is measured again when the
/// commit or the host changes, and a rerun on the same ones redoes nothing.
public enum CostStage {
    /// One network shape to measure.
    public struct Shape: Hashable, Sendable, Codable {
        public var model: Architecture
        /// C x T x H x W of one clip.
        public var input: [Int]
        public var width: Double
        public var classes: Int
        public var training: Bool
        public var batch: Int
        /// "paper", or the scaled profile's name.
        public var scale: String
        /// Seconds of timed repeats after the warm-up (0: one repeat).
        public var minimumSeconds: Double
    }

    /// Measures one shape (the caller owns the benchmark: Benchmarking sits beside this module).
    public typealias Measure = (Shape) throws -> PerformanceRecord

    /// The shapes of a row: its training step and its test view, at the profile's size and, for a
    /// scaled profile, at the paper's (batch 1 there: the paper's sizes take seconds a clip here).
    public static func shapes(_ c: RowConfiguration, paper: RowConfiguration?) -> [Shape] {
        func pair(_ r: RowConfiguration, batch: Int, seconds: Double) -> [Shape] {
            let t = r.training
            let frames = t.clipSpec!.frames
            return [Shape(model: t.model, input: [t.modality.channels, frames, t.crop, t.crop], width: t.width, classes: t.classes,
                          training: true, batch: batch, scale: r.profile.rawValue, minimumSeconds: seconds),
                    Shape(model: t.model, input: [t.modality.channels, frames, r.test.crop, r.test.crop], width: t.width,
                          classes: t.classes, training: false, batch: batch, scale: r.profile.rawValue, minimumSeconds: seconds)]
        }
        var out = c.profile == .paper ? [] : pair(c, batch: c.training.batch, seconds: 1)
        if let p = paper ?? (c.profile == .paper ? c : nil) { out += pair(p, batch: 1, seconds: 0) }
        return out
    }

    /// Measures and records every row whose cost is not yet recorded for this commit and host;
    /// returns each row's records (measured now or found). Shapes shared by rows (rows 6 and 7 at
    /// test time, rows 2 and 3's network) are measured once.
    @discardableResult
    public static func run(_ configurations: [RowConfiguration], paper: [Table1Row: RowConfiguration], store: ResultsStore,
                           provenance: RunProvenance, measure: Measure,
                           say: (String, String) -> Void) throws -> [Table1Row: [PerformanceRecord]] {
        var out: [Table1Row: [PerformanceRecord]] = [:]
        var measured: [Shape: PerformanceRecord] = [:]
        for c in configurations {
            let key = RowKey.configuration(profile: c.profile.rawValue, key: "row\(c.row.rawValue):cost")
            let marker = "configuration:\(c.hash)"
            let previous = try store.runs(configuration: key).last {
                $0.status == .finished && $0.provenance.gitCommit == provenance.gitCommit && $0.provenance.host == provenance.host
            }
            if let previous, try store.artifacts(run: previous.id).contains(where: { $0.kind == marker }) {
                out[c.row] = try store.performance(run: previous.id)
                continue
            }
            // Smallest first: a measurement's peak memory starts from what the last one left resident.
            let shapes = self.shapes(c, paper: paper[c.row]).sorted { cost($0) < cost($1) }
            var records: [PerformanceRecord] = []
            for s in shapes {
                if measured[s] == nil {
                    say(c.name, "cost: \(s.model) \(s.input.map(String.init).joined(separator: "x")) width \(String(format: "%.4g", s.width)) \(s.training ? "training step" : "inference"), batch \(s.batch) (\(s.scale) size)")
                    var r = try measure(s)
                    r.scale = s.scale
                    r.width = s.width == 1 ? nil : s.width
                    measured[s] = r
                }
                records.append(measured[s]!)
            }
            let run = try store.beginRun(configuration: key, profile: c.profile.rawValue, seed: nil, provenance: provenance)
            try store.record(performance: records, run: run)
            try store.record(artifacts: [ArtifactRecord(runID: run, path: "row.json", kind: marker, sha256: c.hash)])
            try store.finishRun(run, status: .finished)
            out[c.row] = records
        }
        return out
    }

    /// A rough order of work, for measuring small shapes first.
    static func cost(_ s: Shape) -> Double {
        Double(s.input.reduce(1, *)) * s.width * s.width * Double(s.batch) * (s.training ? 3 : 1)
    }
}
