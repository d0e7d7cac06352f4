import Foundation

/// Weighted fusion of several models' scores on the same videos, after each model's own view
/// aggregation (mmaction2's report_accuracy; the I3D two-stream sum of logits is `logits` with
/// equal weights).
public enum Ensemble {
    public enum Space: String, CaseIterable, Codable, Sendable {
        /// Weighted sum of each model's mean softmax probabilities.
        case probabilities
        /// Weighted sum of each model's mean logits.
        case logits

        public var aggregation: Aggregation { self == .probabilities ? .meanSoftmax : .meanLogits }
    }

    /// Checks that every file covers the same videos (in any order) and the same classes, and
    /// returns, for each file, the row of each video of the first file.
    public static func alignment(_ files: [ScoresFile]) throws -> [[Int]] {
        guard let first = files.first else { throw EvaluationError.invalid("an ensemble needs at least one scores file") }
        return try files.map { f in
            guard f.classNames == first.classNames else {
                throw EvaluationError.file(f.source, "its classes differ from \(first.source)'s")
            }
            guard f.videoCount == first.videoCount else {
                throw EvaluationError.file(f.source, "has \(f.videoCount) videos, \(first.source) has \(first.videoCount)")
            }
            let rows = Dictionary(uniqueKeysWithValues: f.videoIDs.enumerated().map { ($1, $0) })
            return try first.videoIDs.enumerated().map { row, id in
                guard let r = rows[id] else {
                    throw EvaluationError.file(f.source, "lacks video '\(id)' (row \(row) of \(first.source))")
                }
                return r
            }
        }
    }

    /// Each model's aggregated scores (N x K), rows in the first file's video order.
    public static func perModel(_ files: [ScoresFile], space: Space) throws -> [[Double]] {
        let align = try alignment(files)
        return try zip(files, align).map { f, rows in
            let agg = try Aggregate.scores(f, views: .all(f), by: space.aggregation)
            let K = f.classCount
            var out = [Double](repeating: 0, count: agg.count)
            for (v, r) in rows.enumerated() {
                for c in 0..<K { out[v * K + c] = agg[r * K + c] }
            }
            return out
        }
    }

    /// The weighted sum of per-model scores.
    public static func fuse(_ models: [[Double]], weights: [Double]) -> [Double] {
        precondition(models.count == weights.count && !models.isEmpty, "one weight per model")
        var out = [Double](repeating: 0, count: models[0].count)
        for (m, w) in zip(models, weights) where w != 0 {
            for i in out.indices { out[i] += w * m[i] }
        }
        return out
    }

    /// Searches weights that maximise `objective` (for example official top-1 on validation) by
    /// coordinate ascent over a grid, starting from equal weights. Deterministic: a change is kept
    /// only when it strictly improves the objective, models are visited in order, grid values in
    /// ascending order.
    public static func searchWeights(_ models: [[Double]], grid: [Double] = [0, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 4],
                                     rounds: Int = 10, objective: ([Double]) -> Double) -> (weights: [Double], value: Double) {
        var weights = [Double](repeating: 1, count: models.count)
        var best = objective(fuse(models, weights: weights))
        for _ in 0..<rounds {
            var improved = false
            for m in models.indices {
                for g in grid where g != weights[m] {
                    var trial = weights
                    trial[m] = g
                    if trial.allSatisfy({ $0 == 0 }) { continue }
                    let value = objective(fuse(models, weights: trial))
                    if value > best + 1e-12 { best = value; weights = trial; improved = true }
                }
            }
            if !improved { break }
        }
        return (weights, best)
    }

    /// A scores file holding fused scores as one view: log of the normalised fused probabilities
    /// (so softmax recovers them) or the fused logits.
    public static func output(_ fused: [Double], like first: ScoresFile, space: Space,
                              weights: [Double], sources: [String]) throws -> ScoresFile {
        let K = first.classCount
        var logits = [Float](repeating: 0, count: fused.count)
        for v in 0..<first.videoCount {
            let row = fused[(v * K)..<((v + 1) * K)]
            if space == .probabilities {
                let sum = row.reduce(0, +)
                for c in 0..<K { logits[v * K + c] = Float(log(max(row[v * K + c] / max(sum, .leastNormalMagnitude), 1e-30))) }
            } else {
                for c in 0..<K { logits[v * K + c] = Float(row[v * K + c]) }
            }
        }
        var meta = first.metadata
        meta["model"] = "ensemble"
        meta["ensemble_members"] = sources.joined(separator: ",")
        meta["ensemble_weights"] = weights.map { String($0) }.joined(separator: ",")
        meta["ensemble_space"] = space.rawValue
        meta["score_kind"] = space == .probabilities ? "log-probabilities" : "logits"
        return try ScoresFile(videoIDs: first.videoIDs, labels: first.labels, classNames: first.classNames,
                              spatialCrops: 1, temporalClips: 1, logits: logits, metadata: meta, source: "<ensemble>")
    }
}
