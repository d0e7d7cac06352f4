import Foundation

/// How per-view scores become one score per video and class.
public enum Aggregation: String, CaseIterable, Codable, Sendable {
    /// Mean of softmax probabilities over views (mmaction2's "prob", TCLR).
    case meanSoftmax = "mean-softmax"
    /// Sum of softmax probabilities (SlowFast); ranks exactly like the mean.
    case sumSoftmax = "sum-softmax"
    /// Mean of logits (mmaction2's "score").
    case meanLogits = "mean-logits"
    /// Maximum softmax probability over views.
    case maxSoftmax = "max-softmax"
}

/// Which of the stored views to use: spatial crop indices and temporal clip indices.
public struct ViewSelection: Equatable, Sendable, CustomStringConvertible {
    public var crops: [Int]
    public var clips: [Int]

    public init(crops: [Int], clips: [Int]) { self.crops = crops; self.clips = clips }

    /// Every stored view.
    public static func all(_ scores: ScoresFile) -> ViewSelection {
        ViewSelection(crops: Array(0..<scores.spatialCrops), clips: Array(0..<scores.temporalClips))
    }

    /// "SxT" taken from the stored views: S of the crops and T of the clips, evenly spaced and
    /// always including the centre when one is taken (1 of 3 crops is the centre crop, index 1;
    /// 1 of 10 clips is index 4, the earlier of the two middle ones).
    public static func parse(_ scheme: String, for scores: ScoresFile) throws -> ViewSelection {
        let parts = scheme.lowercased().split(separator: "x").map { Int($0) }
        guard parts.count == 2, let s = parts[0], let t = parts[1], s >= 1, t >= 1 else {
            throw EvaluationError.invalid("view scheme '\(scheme)' is not of the form SxT (for example 3x10 or 1x1)")
        }
        guard s <= scores.spatialCrops, t <= scores.temporalClips else {
            throw EvaluationError.file(scores.source, "holds \(scores.spatialCrops)x\(scores.temporalClips) views; cannot take \(scheme)")
        }
        return ViewSelection(crops: spread(s, of: scores.spatialCrops), clips: spread(t, of: scores.temporalClips))
    }

    /// `k` evenly spaced indices out of `n`; k = 1 gives the centre, (n - 1) / 2.
    public static func spread(_ k: Int, of n: Int) -> [Int] {
        if k == n { return Array(0..<n) }
        if k == 1 { return [(n - 1) / 2] }
        return (0..<k).map { Int((Double($0) * Double(n - 1) / Double(k - 1)).rounded()) }
    }

    public var description: String { "\(crops.count)x\(clips.count)" }
}

public enum Aggregate {
    /// One score per video and class (N x K, row-major, Double precision).
    public static func scores(_ file: ScoresFile, views: ViewSelection, by aggregation: Aggregation) throws -> [Double] {
        guard !views.crops.isEmpty, !views.clips.isEmpty,
              views.crops.allSatisfy({ (0..<file.spatialCrops).contains($0) }),
              views.clips.allSatisfy({ (0..<file.temporalClips).contains($0) }) else {
            throw EvaluationError.file(file.source, "views \(views.crops) x \(views.clips) are not all among its \(file.spatialCrops)x\(file.temporalClips)")
        }
        let K = file.classCount
        let viewCount = Double(views.crops.count * views.clips.count)
        var out = [Double](repeating: aggregation == .maxSoftmax ? -Double.infinity : 0, count: file.videoCount * K)
        var p = [Double](repeating: 0, count: K)
        for v in 0..<file.videoCount {
            for s in views.crops {
                for t in views.clips {
                    let base = ((v * file.spatialCrops + s) * file.temporalClips + t) * K
                    switch aggregation {
                    case .meanLogits:
                        for c in 0..<K { out[v * K + c] += Double(file.logits[base + c]) / viewCount }
                    case .meanSoftmax, .sumSoftmax, .maxSoftmax:
                        softmax(file.logits, from: base, count: K, into: &p)
                        for c in 0..<K {
                            switch aggregation {
                            case .meanSoftmax: out[v * K + c] += p[c] / viewCount
                            case .sumSoftmax: out[v * K + c] += p[c]
                            default: out[v * K + c] = max(out[v * K + c], p[c])
                            }
                        }
                    }
                }
            }
        }
        return out
    }

    /// Numerically stable softmax of `count` logits starting at `from`, in Double.
    static func softmax(_ x: [Float], from: Int, count: Int, into p: inout [Double]) {
        var m = -Double.infinity
        for c in 0..<count { m = max(m, Double(x[from + c])) }
        var sum = 0.0
        for c in 0..<count { p[c] = exp(Double(x[from + c]) - m); sum += p[c] }
        for c in 0..<count { p[c] /= sum }
    }

    /// The `k` best 0-based classes of one row, best first; ties go to the lower class index.
    public static func topK(_ row: ArraySlice<Double>, _ k: Int) -> [Int] {
        let base = row.startIndex
        return row.indices.sorted { a, b in
            row[a] != row[b] ? row[a] > row[b] : a < b
        }.prefix(k).map { $0 - base }
    }

    /// Top-k 0-based classes of every video.
    public static func ranked(_ scores: [Double], classes K: Int, k: Int) -> [[Int]] {
        stride(from: 0, to: scores.count, by: K).map { topK(scores[$0..<($0 + K)], min(k, K)) }
    }
}
