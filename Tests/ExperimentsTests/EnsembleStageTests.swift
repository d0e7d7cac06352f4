import Data
import Evaluation
@testable import Experiments
import Foundation
import Store
import XCTest

final class EnsembleStageTests: XCTestCase {
    /// One member's scores: `right` of the `n` videos get their label's logit raised (the rest
    /// their label + 1's), so its top-1 is right / n; two views, the same per view.
    func member(_ dir: String, _ name: String, labels: [Int], right: Set<Int>, strength: Float) throws -> String {
        let k = 4
        var logits: [Float] = []
        for (v, label) in labels.enumerated() {
            for _ in 0..<2 {
                var row = [Float](repeating: 0, count: k)
                row[right.contains(v) ? label : (label + 1) % k] = strength
                logits += row
            }
        }
        let f = try ScoresFile(videoIDs: labels.indices.map { "v\($0)" }, labels: labels, classNames: ["a", "b", "c", "d"],
                               spatialCrops: 1, temporalClips: 2, logits: logits, metadata: ["sampling_rule": "test"], source: name)
        let path = "\(dir)/\(name).safetensors"
        try f.write(to: path)
        return path
    }

    /// The equal-weight ensemble and the one whose weights are searched on validation: the search
    /// outweighs a member that only hurts, the weights found on validation are applied unchanged to
    /// test, both splits and the weights are recorded, and a second pass records nothing new.
    func testWeightsSearchedOnValidationAreAppliedToTest() throws {
        let dir = NSTemporaryDirectory() + "vipbench-ensemble-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let db = try ResultsStore(path: dir + "/db.sqlite")
        let labels = (0..<20).map { $0 % 4 }
        // Member a (RGB): right on videos 0-11 (60 %); member b (flow): right on 0-3 only, but
        // confidently wrong elsewhere, so with equal weights it overrules a on videos 4-11.
        var members: [EnsembleMember] = []
        for split in ["val", "test"] {
            let a = try member(dir, "a-\(split)", labels: labels, right: Set(0..<12), strength: 1)
            let b = try member(dir, "b-\(split)", labels: labels, right: Set(0..<4), strength: 3)
            if split == "val" {
                members = [EnsembleMember(key: "row6", validation: a, test: nil), EnsembleMember(key: "row4", validation: b, test: nil, flow: true)]
            } else {
                members[0].test = a; members[1].test = b
            }
        }
        let ds = VideoDataset(root: dir, classes: ["a", "b", "c", "d"], items: [])
        let runner = Runner(profile: .smoke, rows: [.r3d18, .r3d18TCLR], seeds: [0], dataset: ds, flowRoot: nil, work: dir, store: db)
        let outcomes = try runner.ensembles(members, seed: 0) { _ in }
        XCTAssertEqual(outcomes.map(\.key), ["ensemble", "ensemble-searched", "ensemble-rgb"])
        let equal = outcomes[0], searched = outcomes[1]
        XCTAssertEqual(equal.weights, ["row6": 1, "row4": 1])
        XCTAssertEqual(equal.top1["3x10"]!, 0.2, accuracy: 1e-9, "b overrules a where it is wrong")
        XCTAssertEqual(equal.testTop1["3x10"]!, 0.2, accuracy: 1e-9)
        // Coordinate ascent from equal weights: a's weight rises to the first grid value (3) at
        // which b no longer overrules it; nothing after that strictly improves.
        XCTAssertEqual(searched.weights, ["row6": 3, "row4": 1])
        XCTAssertEqual(searched.top1["3x10"]!, 0.6, accuracy: 1e-9)
        XCTAssertEqual(searched.testTop1["3x10"]!, 0.6, accuracy: 1e-9, "the validation weights applied to test")

        // The RGB rows alone (the flow member left out), to say whether flow adds to RGB.
        XCTAssertEqual(outcomes[2].weights, ["row6": 1])
        XCTAssertEqual(outcomes[2].top1["3x10"]!, 0.6, accuracy: 1e-9)

        let runs = try db.runs()
        XCTAssertEqual(runs.map(\.configuration).sorted(), ["table1:smoke:ensemble", "table1:smoke:ensemble-rgb", "table1:smoke:ensemble-searched"])
        let searchedRun = runs.first { $0.configuration == "table1:smoke:ensemble-searched" }!
        let metrics = try db.metrics(run: searchedRun.id)
        XCTAssertEqual(metrics.first { $0.split == "test" && $0.metric == "top1" && $0.variant == "video" }?.value ?? -1, 0.6, accuracy: 1e-9)
        XCTAssertEqual(metrics.first { $0.split == "val" && $0.metric == "top1" && $0.variant == "video" }?.value ?? -1, 0.6, accuracy: 1e-9)
        XCTAssertEqual(metrics.filter { $0.metric == "weight" }.map { "\($0.variant)=\($0.value!)" }.sorted(), ["row4=1.0", "row6=3.0"])

        _ = try runner.ensembles(members, seed: 0) { _ in }
        XCTAssertEqual(try db.runs().count, 3, "a second pass records nothing new")

        // A member's scores change (its row retrained under a new configuration): the fused files
        // of the earlier pass, named by rows, must not stand in for the new fusion.
        members[1].validation = try member(dir, "b2-val", labels: labels, right: Set(0..<20), strength: 3)
        let again = try runner.ensembles(members, seed: 0) { _ in }
        XCTAssertEqual(again[0].top1["3x10"]!, 1.0, accuracy: 1e-9, "b is now right everywhere and overrules a")
        XCTAssertEqual(try db.runs().filter { $0.configuration == "table1:smoke:ensemble" }.count, 2, "the new fusion is recorded")
    }
}
