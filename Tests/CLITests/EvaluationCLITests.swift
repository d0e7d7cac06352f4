import Evaluation
import Foundation
import Store
import XCTest

final class EvaluationCLITests: XCTestCase {
    var dir: String!
    override func setUpWithError() throws { dir = try CLI.temporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    /// The real challenge annotations, committed in Tests/Fixtures/kinetics400vipriors.
    var annotations: String { CLI.packageRoot + "/Tests/Fixtures/kinetics400vipriors" }

    /// Per class c: a(c) hits at rank 1, b(c) at rank 3, d(c) at rank 5, the rest misses.
    func hits(_ c: Int) -> (Int, Int, Int) { (c % 11, c % 7, c % 5) }

    /// Scores for the real validation videos whose top-5 ranking has known hits per class.
    func validationScores() throws -> (path: String, official: [Double], allClass: [Double]) {
        _ = try CLI.fixture("kinetics400vipriors")
        let classes = try ClassIndex(contentsOf: annotations + "/clsIdx.csv")
        let truth = try LabelledVideos(contentsOf: annotations + "/kinetics400ViPriors-val.csv", classes: classes)
        let K = classes.count
        var logits = [Float](repeating: 0, count: truth.videoIDs.count * K)
        var seen: [Int: Int] = [:]
        for (v, c) in truth.classes.enumerated() {
            let j = seen[c, default: 0]
            seen[c] = j + 1
            var ranked = (1...5).map { ((c + $0) % 399) + 1 }
            let (a, b, d) = hits(c)
            if j < a { ranked[0] = c } else if j < a + b { ranked[2] = c } else if j < a + b + d { ranked[4] = c }
            for (r, cls) in ranked.enumerated() { logits[v * K + cls - 1] = Float(5 - r) }
        }
        let path = dir + "/val.safetensors"
        try ScoresFile(videoIDs: truth.videoIDs, labels: truth.classes.map { $0 - 1 }, classNames: classes.names,
                       spatialCrops: 1, temporalClips: 1, logits: logits,
                       metadata: ["model": "synthetic", "split": "val", "sampling_rule": "slowfast-offset"]).write(to: path)
        func mean(_ n: Int, _ f: (Int) -> Int) -> Double { (1...n).reduce(0.0) { $0 + Double(f($1)) / 25 } / Double(n) }
        let top = [{ (c: Int) in self.hits(c).0 }, { self.hits($0).0 + self.hits($0).1 }, { self.hits($0).0 + self.hits($0).1 + self.hits($0).2 }]
        return (path, top.map { mean(399, $0) }, top.map { mean(400, $0) })
    }

    func testSubmitThenScoreOnTheRealValidationSet() throws {
        let (scores, official, allClass) = try validationScores()
        let sub = dir + "/submission.txt"
        let s = try CLI.run(["submit", "--scores", scores, "--out", sub, "--classes", annotations + "/clsIdx.csv"])
        XCTAssertEqual(s.status, 0, s.stderr)
        let lines = try String(contentsOfFile: sub, encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines.count, 10_000)
        XCTAssertEqual(lines[0].split(separator: " ").count, 6)

        let r = try CLI.run(["score", "--submission", sub, "--annotations", annotations, "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let off = try XCTUnwrap(json["official"] as? [String: Double])
        let all = try XCTUnwrap(json["all_class"] as? [String: Double])
        for (i, k) in ["top1", "top3", "top5"].enumerated() {
            XCTAssertEqual(try XCTUnwrap(off[k]), official[i], accuracy: 1e-12, k)
            XCTAssertEqual(try XCTUnwrap(all[k]), allClass[i], accuracy: 1e-12, k)
        }
        XCTAssertEqual(json["videos"] as? Int, 10_000)

        let text = try CLI.run(["score", "--submission", sub, "--annotations", annotations])
        XCTAssertTrue(text.stdout.contains("official (mean class accuracy, classes 1..399)"), text.stdout)
        XCTAssertTrue(text.stdout.contains(String(format: "%.2f%%", official[0] * 100)), text.stdout)

        // Leaving out the organisers' corrupt videos shrinks the ground truth.
        let corr = try CLI.run(["score", "--submission", sub, "--annotations", annotations, "--json",
                                "--corrupted", annotations + "/kinetics400ViPriors_corrupted_videos.txt"])
        XCTAssertEqual(corr.status, 0, corr.stderr)
        let corrJSON = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(corr.stdout.utf8)) as? [String: Any])
        XCTAssertLessThan(corrJSON["videos"] as? Int ?? 10_000, 10_000)
    }

    func testEvalRecordsMetricsInTheStore() throws {
        let (scores, official, _) = try validationScores()
        let db = dir + "/eval.sqlite"
        let r = try CLI.run(["eval", "--scores", scores, "--json", "--record", "--db", db])
        XCTAssertEqual(r.status, 0, r.stderr)
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(try XCTUnwrap((json["official"] as? [String: Double])?["top1"]), official[0], accuracy: 1e-12)
        let store = try ResultsStore(path: db)
        let run = try XCTUnwrap(store.runs().first)
        XCTAssertEqual(run.configuration, "eval:synthetic")
        XCTAssertEqual(run.status, .finished)
        let metrics = try store.metrics(run: run.id)
        XCTAssertEqual(metrics.count, 9)
        let top1 = try XCTUnwrap(metrics.first { $0.metric == "top1" && $0.variant == "official" })
        XCTAssertEqual(try XCTUnwrap(top1.value), official[0], accuracy: 1e-12)
        XCTAssertEqual(top1.samplingRule, "slowfast-offset")
        XCTAssertEqual(try store.artifacts().map(\.kind), ["scores"])
    }

    func smallScores(_ name: String, seed: UInt64, labels: [Int], views: (Int, Int) = (3, 2)) throws -> String {
        var state = seed
        func next() -> Float {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int(state >> 41) % 1000) / 250
        }
        let K = 10, (S, T) = views
        var logits = [Float](repeating: 0, count: labels.count * S * T * K)
        for (v, label) in labels.enumerated() {
            for i in 0..<(S * T * K) { logits[v * S * T * K + i] = next() }
            for view in 0..<(S * T) where (v + view) % 3 != 0 { logits[(v * S * T + view) * K + label] += 2 }
        }
        let path = dir + "/\(name).safetensors"
        try ScoresFile(videoIDs: labels.indices.map { "vid\($0)" }, labels: labels, classNames: (0..<K).map { "class \($0)" },
                       spatialCrops: S, temporalClips: T, logits: logits, metadata: ["model": name]).write(to: path)
        return path
    }

    func testEvalViewsConfusionAndEnsemble() throws {
        let labels = (0..<60).map { $0 % 10 }
        let a = try smallScores("a", seed: 1, labels: labels), b = try smallScores("b", seed: 2, labels: labels)
        let one = try CLI.run(["eval", "--scores", a, "--views", "1x1", "--aggregate", "mean-logits", "--json"])
        XCTAssertEqual(one.status, 0, one.stderr)
        XCTAssertTrue(one.stdout.contains("\"views\": \"1x1\""), one.stdout)
        let cm = dir + "/cm"
        let full = try CLI.run(["eval", "--scores", a, "--confusion", cm])
        XCTAssertEqual(full.status, 0, full.stderr)
        XCTAssertTrue(full.stdout.contains("3x2 views"), full.stdout)
        for f in ["confusion.png", "confusion.svg", "confusion.csv", "confusion.gp"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: cm + "/" + f), f)
        }
        let out = dir + "/ens.safetensors"
        let e = try CLI.run(["ensemble", "--scores", a, b, "--search-on", a, b, "--out", out, "--json"])
        XCTAssertEqual(e.status, 0, e.stderr)
        XCTAssertTrue(e.stdout.contains("\"weights\""), e.stdout)
        let fused = try ScoresFile(contentsOf: out)
        XCTAssertEqual(fused.spatialCrops * fused.temporalClips, 1)
        XCTAssertEqual(fused.metadata["model"], "ensemble")
        let w = try CLI.run(["ensemble", "--scores", a, b, "--weights", "1", "--out", out])
        XCTAssertNotEqual(w.status, 0)
        XCTAssertTrue(w.stderr.contains("--weights has 1 values for 2 scores files"), w.stderr)
    }

    func testBadInputsGiveClearErrors() throws {
        let notScores = dir + "/notes.safetensors"
        try "no tensors here".write(toFile: notScores, atomically: true, encoding: .utf8)
        let r = try CLI.run(["eval", "--scores", notScores])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains(notScores), r.stderr)
        let s = try CLI.run(["score", "--submission", dir + "/none.txt", "--annotations", dir])
        XCTAssertNotEqual(s.status, 0)
        XCTAssertTrue(s.stderr.contains("has no clsIdx.csv"), s.stderr)
        let labels = (0..<10).map { $0 }
        let a = try smallScores("a", seed: 3, labels: labels)
        let v = try CLI.run(["eval", "--scores", a, "--views", "4x2"])
        XCTAssertNotEqual(v.status, 0)
        XCTAssertTrue(v.stderr.contains("cannot take 4x2"), v.stderr)
        let agg = try CLI.run(["eval", "--scores", a, "--aggregate", "median"])
        XCTAssertNotEqual(agg.status, 0)
        XCTAssertTrue(agg.stderr.contains("mean-softmax"), agg.stderr)
    }
}
