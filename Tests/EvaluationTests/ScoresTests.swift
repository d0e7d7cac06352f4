import Evaluation
import Foundation
import Plot
import Safetensors
import XCTest

final class ScoresTests: XCTestCase {
    var dir: String!
    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "vipbench-eval-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    /// One video, one crop, two clips, three classes, with round softmax values:
    /// clip 0 softmax [1/4, 2/4, 1/4], clip 1 softmax [3/5, 1/5, 1/5].
    func twoClipFile() throws -> ScoresFile {
        try ScoresFile(videoIDs: ["v"], labels: [1], classNames: ["a", "b", "c"], spatialCrops: 1, temporalClips: 2,
                       logits: [0, Float(log(2.0)), 0, Float(log(3.0)), 0, 0])
    }

    func testEveryAggregationByHand() throws {
        let f = try twoClipFile()
        let all = ViewSelection.all(f)
        func check(_ a: Aggregation, _ expected: [Double]) throws {
            let got = try Aggregate.scores(f, views: all, by: a)
            for (g, e) in zip(got, expected) { XCTAssertEqual(g, e, accuracy: 1e-6, "\(a)") }
        }
        try check(.meanSoftmax, [0.425, 0.35, 0.225])
        try check(.sumSoftmax, [0.85, 0.7, 0.45])
        try check(.maxSoftmax, [0.6, 0.5, 0.25])
        try check(.meanLogits, [log(3.0) / 2, log(2.0) / 2, 0])
        // A subset: clip 1 only.
        let one = try Aggregate.scores(f, views: ViewSelection(crops: [0], clips: [1]), by: .meanSoftmax)
        XCTAssertEqual(one[0], 0.6, accuracy: 1e-6)
    }

    func testTiesGoToTheLowerClassIndex() {
        XCTAssertEqual(Aggregate.topK([0.2, 0.5, 0.5, 0.1, 0.5][...], 4), [1, 2, 4, 0])
        XCTAssertEqual(Aggregate.ranked([1, 1, 1, 0, 2, 2], classes: 3, k: 2), [[0, 1], [1, 2]])
    }

    func testViewSchemes() throws {
        let f = try ScoresFile(videoIDs: ["v"], labels: [nil], classNames: ["a"], spatialCrops: 3, temporalClips: 10,
                               logits: [Float](repeating: 0, count: 30))
        XCTAssertEqual(try ViewSelection.parse("3x10", for: f), ViewSelection(crops: [0, 1, 2], clips: Array(0..<10)))
        XCTAssertEqual(try ViewSelection.parse("1x1", for: f), ViewSelection(crops: [1], clips: [4]))
        XCTAssertEqual(try ViewSelection.parse("1x5", for: f).clips, [0, 2, 5, 7, 9])
        XCTAssertThrowsError(try ViewSelection.parse("3x12", for: f)) { XCTAssertTrue("\($0)".contains("cannot take 3x12")) }
        XCTAssertThrowsError(try ViewSelection.parse("three", for: f)) { XCTAssertTrue("\($0)".contains("SxT")) }
    }

    func testScoresFileRoundTripsThroughSafetensors() throws {
        let f = try ScoresFile(videoIDs: ["abc-_DEF12", "x"], labels: [2, nil], classNames: ["air drumming", "b", "passing (game)"],
                               spatialCrops: 3, temporalClips: 2, logits: (0..<36).map { Float($0) * 0.5 - 3 },
                               metadata: ["model": "r3d18", "sampling_rule": "slowfast-offset"])
        let path = dir + "/s.safetensors"
        try f.write(to: path)
        let g = try ScoresFile(contentsOf: path)
        XCTAssertEqual(g.videoIDs, f.videoIDs)
        XCTAssertEqual(g.labels, f.labels)
        XCTAssertEqual(g.classNames, f.classNames)
        XCTAssertEqual(g.logits, f.logits)
        XCTAssertEqual(g.metadata["model"], "r3d18")
        XCTAssertEqual(g.logit(0, 2, 1, 2), f.logits[((0 * 3 + 2) * 2 + 1) * 3 + 2])
        // The container layout Python's safetensors expects: u64 LE header length, JSON, data.
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        let n = bytes[0..<8].enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        XCTAssertEqual(n % 8, 0)
        let header = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(bytes[8..<(8 + n)])) as? [String: Any])
        let logits = try XCTUnwrap(header["logits"] as? [String: Any])
        XCTAssertEqual(logits["dtype"] as? String, "F32")
        XCTAssertEqual(logits["shape"] as? [Int], [2, 3, 2, 3])
        XCTAssertEqual(bytes.count, 8 + n + 36 * 4 + 2 * 8)
    }

    func testBadScoresFilesNameTheFileAndRow() throws {
        // Shapes that disagree with the ids.
        let path = dir + "/bad.safetensors"
        try SafetensorsFile(tensors: ["logits": .init(floats: [Float](repeating: 0, count: 12), shape: [3, 1, 1, 4])],
                            metadata: ["video_ids": "[\"a\",\"b\"]", "class_names": "[\"p\",\"q\",\"r\",\"s\"]"]).write(to: path)
        XCTAssertThrowsError(try ScoresFile(contentsOf: path)) {
            XCTAssertEqual("\($0)", "\(path): video_ids has 2 entries but logits has 3 videos")
        }
        XCTAssertThrowsError(try ScoresFile(videoIDs: ["a", "a"], labels: [0, 0], classNames: ["p"], spatialCrops: 1,
                                            temporalClips: 1, logits: [0, 0], source: "dup.st")) {
            XCTAssertEqual("\($0)", "dup.st: row 1: video 'a' repeats row 0")
        }
        XCTAssertThrowsError(try ScoresFile(videoIDs: ["a"], labels: [5], classNames: ["p"], spatialCrops: 1,
                                            temporalClips: 1, logits: [0], source: "l.st")) {
            XCTAssertEqual("\($0)", "l.st: row 0 (video 'a'): label 5 is outside 0..0")
        }
        // A class name that is not in clsIdx.csv.
        let f = try ScoresFile(videoIDs: ["a"], labels: [0], classNames: ["abseiling", "moonwalking"], spatialCrops: 1,
                               temporalClips: 1, logits: [1, 0], source: "c.st")
        XCTAssertThrowsError(try f.classMapping(to: ClassIndex(names: ["abseiling", "zumba"], source: "clsIdx.csv"))) {
            XCTAssertEqual("\($0)", "c.st: class 1 'moonwalking' is not in clsIdx.csv")
        }
        // Truncated and non-safetensors files.
        let full = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        let cut = dir + "/cut.safetensors"
        FileManager.default.createFile(atPath: cut, contents: Data(full.prefix(full.count - 10)))
        XCTAssertThrowsError(try ScoresFile(contentsOf: cut)) { XCTAssertTrue("\($0)".contains("cut.safetensors") && "\($0)".contains("truncated"), "\($0)") }
        let text = dir + "/text.safetensors"
        FileManager.default.createFile(atPath: text, contents: Data("hello world, not tensors".utf8))
        XCTAssertThrowsError(try ScoresFile(contentsOf: text)) { XCTAssertTrue("\($0)".contains("is not a safetensors file"), "\($0)") }
    }

    func testEvaluationOfAScoresFile() throws {
        // 4 videos, 3 classes, labels 0,1,2,2; logits make predictions 0,1,1,2 at top-1.
        let logits: [Float] = [5, 1, 0,  0, 5, 1,  0, 5, 4,  0, 1, 5]
        let f = try ScoresFile(videoIDs: ["a", "b", "c", "d"], labels: [0, 1, 2, 2], classNames: ["x", "y", "z"],
                               spatialCrops: 1, temporalClips: 1, logits: logits)
        let e = try Evaluation(f, views: .all(f), aggregation: .meanSoftmax)
        // Official: classes 1..2 (x, y) both fully right; z (the last class) left out.
        XCTAssertEqual(e.score.official["top1"], .some(1))
        XCTAssertEqual(try XCTUnwrap(e.score.allClass["top1"]), (1 + 1 + 0.5) / 3, accuracy: 1e-12)
        XCTAssertEqual(e.score.video["top1"], 0.75)
        XCTAssertEqual(e.confusion[2, 1], 1)
        XCTAssertEqual(e.confusion[2, 2], 1)
        XCTAssertEqual(e.confusion.counts.reduce(0, +), 4)
        let records = e.metricRecords(split: "val", samplingRule: "slowfast-offset")
        XCTAssertEqual(records.count, 9)
        XCTAssertEqual(records.first { $0.metric == "top1" && $0.variant == "video" }?.value, 0.75)
        XCTAssertTrue(records.allSatisfy { $0.spatialCrops == 1 && $0.temporalClips == 1 && $0.aggregation == "mean-softmax" })
    }

    func testConfusionMatrixDrawsAHeatMap() throws {
        let names = (0..<12).map { "class \($0)" }
        let truth = (0..<120).map { $0 % 12 }
        let predicted = truth.map { $0 % 3 == 0 ? ($0 + 1) % 12 : $0 }
        let cm = ConfusionMatrix(classNames: names, truth: truth, predicted: predicted)
        XCTAssertEqual(cm[0, 1], 10)
        XCTAssertEqual(cm[1, 1], 10)
        let files = try Gnuplot.render(try cm.figure(title: "test"), into: dir + "/cm")
        XCTAssertTrue(files.contains { $0.hasSuffix("confusion.png") })
        XCTAssertNotNil(pngSize(atPath: dir + "/cm/confusion.png"))
        XCTAssertTrue(cm.csv().hasPrefix("truth \\ predicted,class 0,class 1"))
        XCTAssertThrowsError(try ConfusionMatrix(classNames: (0..<400).map(String.init), truth: [], predicted: []).figure(title: "x"))
    }

    func testEnsembleFusesAndSearchesWeights() throws {
        // Model A is right on videos 0-1, model B on 2-3; a weighted sum can be right on all four
        // only if B's confident votes win where A is unsure.
        let labels = [0, 1, 0, 1]
        let a = try ScoresFile(videoIDs: ["v0", "v1", "v2", "v3"], labels: labels, classNames: ["p", "q", "r"],
                               spatialCrops: 1, temporalClips: 1, logits: [3, 0, 0,  0, 3, 0,  0, 0.2, 0,  0.2, 0, 0])
        // B lists the videos in another order: alignment is by id.
        let b = try ScoresFile(videoIDs: ["v3", "v2", "v1", "v0"], labels: [1, 0, 1, 0], classNames: ["p", "q", "r"],
                               spatialCrops: 1, temporalClips: 1, logits: [0, 4, 0,  4, 0, 0,  0, 0, 0.1,  0, 0, 0.1])
        let models = try Ensemble.perModel([a, b], space: .logits)
        let v0FromB: [Double] = Array(models[1][0..<3])  // v0 comes from B's row 3
        XCTAssertEqual(v0FromB, [0, 0, Double(Float(0.1))])
        let equal = Ensemble.fuse(models, weights: [1, 1])
        XCTAssertEqual(Aggregate.ranked(equal, classes: 3, k: 1).map { $0[0] }, [0, 1, 0, 1])
        let result = Ensemble.searchWeights(models) { fused in
            let top = Aggregate.ranked(fused, classes: 3, k: 1).map { $0[0] }
            return Double(zip(top, labels).filter { $0 == $1 }.count) / 4
        }
        XCTAssertEqual(result.value, 1)
        XCTAssertEqual(result.weights, [1, 1], "equal weights are already perfect; no change is kept")
        // Misaligned files are refused with the file and video named.
        let c = try ScoresFile(videoIDs: ["v0", "v1", "v2", "zz"], labels: labels, classNames: ["p", "q", "r"],
                               spatialCrops: 1, temporalClips: 1, logits: [Float](repeating: 0, count: 12), source: "c.st")
        XCTAssertThrowsError(try Ensemble.perModel([a, c], space: .logits)) {
            XCTAssertEqual("\($0)", "c.st: lacks video 'v3' (row 3 of <scores>)")
        }
        // The written ensemble keeps the probabilities: softmax of its logits is the normalised sum.
        let probs = try Ensemble.perModel([a, b], space: .probabilities)
        let fused = Ensemble.fuse(probs, weights: [1, 3])
        let out = try Ensemble.output(fused, like: a, space: .probabilities, weights: [1, 3], sources: ["a", "b"])
        let back = try Aggregate.scores(out, views: .all(out), by: .meanSoftmax)
        for v in 0..<4 {
            let sum = fused[(v * 3)..<(v * 3 + 3)].reduce(0, +)
            for c in 0..<3 { XCTAssertEqual(back[v * 3 + c], fused[v * 3 + c] / sum, accuracy: 1e-6) }
        }
        XCTAssertEqual(out.metadata["ensemble_weights"], "1.0,3.0")
    }
}
