import Evaluation
import Foundation
import Store

/// One row's scores for the ensemble: validation, and test where the dataset has a test split.
public struct EnsembleMember: Sendable, Equatable {
    public var key: String
    public var validation: String
    public var test: String?
    public var flow = false
}

extension Runner {
    /// The ensembles of a seed's rows, each member's probabilities averaged over all its views:
    ///
    /// - `ensemble`: equal weights, nothing tuned, so its validation figure is not optimistic;
    /// - `ensemble-searched`: weights searched on validation (coordinate ascent over a grid,
    ///   maximising video top-1, as the report tunes its ensemble), then applied unchanged to the
    ///   test split. Its validation figure is optimistic by construction; the test figure (where
    ///   the test labels are known) is the honest one. The weights are recorded as metrics
    ///   (`weight`, variant = member);
    /// - `ensemble-rgb`: equal weights over the RGB rows only, where flow rows are members too, so
    ///   that the report can say whether flow adds to RGB (one of the paper's orderings).
    func ensembles(_ members: [EnsembleMember], seed: UInt64, events: (Event) -> Void) throws -> [Outcome] {
        var outcomes = try ensembles(members, seed: seed, searched: true, key: "ensemble", events: events)
        let rgb = members.filter { !$0.flow }
        if !rgb.isEmpty && rgb.count < members.count {
            outcomes += try ensembles(rgb, seed: seed, searched: false, key: "ensemble-rgb", events: events)
        }
        return outcomes
    }

    func ensembles(_ members: [EnsembleMember], seed: UInt64, searched search: Bool, key base: String,
                   events: (Event) -> Void) throws -> [Outcome] {
        let keys = members.map(\.key)
        let validation = try members.map { try ScoresFile(contentsOf: $0.validation) }
        let valModels = try Ensemble.perModel(validation, space: .probabilities)
        // The test ensembles need every member's test scores.
        let testPaths = members.compactMap(\.test)
        let tests = testPaths.count == members.count ? try testPaths.map { try ScoresFile(contentsOf: $0) } : nil
        let testModels = try tests.map { try Ensemble.perModel($0, space: .probabilities) }

        let equal = [Double](repeating: 1, count: members.count)
        var variants = [(base, equal)]
        if search {
            let searched = Ensemble.searchWeights(valModels) { fused in
                Self.videoTop1(fused, labels: validation[0].labels, classes: validation[0].classCount)
            }.weights
            variants.append((base + "-searched", searched))
        }
        var outcomes: [Outcome] = []
        for (key, weights) in variants {
            let name = "\(key)-\(profile.rawValue)-seed\(seed)-\(keys.joined(separator: "+"))"
            let valPath = try write(Ensemble.fuse(valModels, weights: weights), like: validation[0], weights: weights,
                                    sources: keys, to: "\(work)/\(name).safetensors")
            let testPath = try testModels.map { models in
                try write(Ensemble.fuse(models, weights: weights), like: tests![0], weights: weights, sources: keys,
                          to: "\(work)/\(name)-test.safetensors")
            }
            var oneView = self
            oneView.viewSchemes = ["1x1"]   // a fused file holds one view per video
            let weightRecords = zip(keys, weights).map {
                MetricRecord(split: "val", spatialCrops: 1, temporalClips: 1, samplingRule: "ensemble", metric: "weight", variant: $0, value: $1)
            }
            let (top1, testTop1) = try oneView.evaluateAndRecord(
                key: key, seed: seed, scores: valPath, test: testPath,
                configuration: "members:" + keys.joined(separator: ",") + ";weights:" + weights.map { String($0) }.joined(separator: ","),
                extra: weightRecords)
            let v = top1["1x1"] ?? .nan, t = testTop1["1x1"]
            events(.stage(row: key, seed: seed, stage: "eval", message: String(format: "%d members, weights %@: validation top-1 %.1f %%", members.count,
                                                                           weights.map { String(format: "%g", $0) }.joined(separator: ","), 100 * v)
                + (t.map { String(format: ", test top-1 %.1f %%", 100 * $0) } ?? "")))
            outcomes.append(Outcome(key: key, seed: seed, top1: ["3x10": v], scores: valPath, failure: nil, testScores: testPath,
                                    testTop1: t.map { ["3x10": $0] } ?? [:], weights: Dictionary(uniqueKeysWithValues: zip(keys, weights))))
        }
        return outcomes
    }

    /// Video top-1 of fused scores (N x K) against the labels known (unlabelled videos left out).
    static func videoTop1(_ fused: [Double], labels: [Int?], classes k: Int) -> Double {
        // The evaluator's own ranking (ties as it breaks them).
        let known = zip(Aggregate.ranked(fused, classes: k, k: 1), labels).compactMap { top, label in label.map { top.first == $0 } }
        return known.isEmpty ? 0 : Double(known.filter { $0 }.count) / Double(known.count)
    }

    /// Writes fused scores as a one-view scores file, every time (the write is atomic: temporary
    /// name, then renamed): the file's name says which rows, not which scores, so a file
    /// left by an earlier run whose members have since changed (a row's configuration, a retrained
    /// row) would otherwise be evaluated in place of the new fusion. Nothing is recorded twice:
    /// the same fusion gives the same file, and the store keeps one run per scores file.
    func write(_ fused: [Double], like first: ScoresFile, weights: [Double], sources: [String], to path: String) throws -> String {
        var out = try Ensemble.output(fused, like: first, space: .probabilities, weights: weights, sources: sources)
        out.metadata["sampling_rule"] = "ensemble"
        try out.write(to: path)
        return path
    }
}
