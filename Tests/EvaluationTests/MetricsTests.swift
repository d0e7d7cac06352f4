import Evaluation
import Foundation
import TestSupport
import XCTest

/// Hand-computed cases for the challenge's metrics. Four classes A, B, C, D: D is the last class,
/// which the official figure leaves out.
final class MetricsTests: XCTestCase {
    let classes = ClassIndex(names: ["A", "B", "C", "D"])

    func score(_ submission: String, truth: [(String, Int)]) -> ChallengeScore {
        let t = LabelledVideos(videoIDs: truth.map(\.0), classes: truth.map(\.1))
        return ChallengeScore.compute(truth: t, classes: classes, submission: Submission.parse(submission, source: "s.txt"))
    }

    func testHandComputedOfficialAllClassAndVideoFigures() throws {
        let truth = [("v1", 1), ("v2", 1), ("v3", 2), ("v4", 3), ("v5", 4), ("v6", 2)]
        let text = """
            v1 1 2 3 4 5 6 7
            v2 2 1
            v3 x 2
            v5 4
            v6
            v1 4
            stranger 1

            """
        let s = score(text, truth: truth)
        // Official, classes 1..3: top-1 A 1/2, B 0/2, C 0/1; top-3 A 2/2, B 1/2, C 0/1.
        XCTAssertEqual(try XCTUnwrap(s.official["top1"] ?? nil), 1.0 / 6, accuracy: 1e-12)
        XCTAssertEqual(try XCTUnwrap(s.official["top3"] ?? nil), 0.5, accuracy: 1e-12)
        XCTAssertEqual(try XCTUnwrap(s.official["top5"] ?? nil), 0.5, accuracy: 1e-12)
        // All classes with videos, D included (1/1).
        XCTAssertEqual(try XCTUnwrap(s.allClass["top1"]), 1.5 / 4, accuracy: 1e-12)
        XCTAssertEqual(try XCTUnwrap(s.allClass["top3"]), 2.5 / 4, accuracy: 1e-12)
        XCTAssertEqual(try XCTUnwrap(s.video["top1"]), 2.0 / 6, accuracy: 1e-12)
        XCTAssertEqual(try XCTUnwrap(s.video["top5"]), 4.0 / 6, accuracy: 1e-12)
        XCTAssertEqual(s.missingPredictions, 2)  // v4 has no line, v6 no classes
        XCTAssertEqual(s.perClass.map(\.videos), [2, 2, 1, 1])
        XCTAssertEqual(s.perClass.map(\.top1Hits), [1, 0, 0, 1])
        let w = s.warnings.joined(separator: "\n")
        XCTAssertTrue(w.contains("s.txt:3: video 'v3' has a token that is not an integer"), w)
        XCTAssertTrue(w.contains("s.txt:5: video 'v6' has no predictions"), w)
        XCTAssertTrue(w.contains("s.txt:6: video 'v1' appears again; the first line wins"), w)
        XCTAssertTrue(w.contains("1 video(s) not in"), w)
    }

    func testOnlyTheFirstFivePredictionsCount() {
        let s = score("v1 2 2 2 2 2 1\n", truth: [("v1", 1), ("v2", 2)])
        XCTAssertEqual(s.video["top5"], 0)
    }

    func testPredictingTheLeftOutClassIsAMissAndItsVideosDoNotCount() throws {
        // v1 (A) predicted as D: a miss. v2 is class D: not in the official figure at all.
        let s = score("v1 4 1\nv2 1\nv3 2\nv4 3\n", truth: [("v1", 1), ("v2", 4), ("v3", 2), ("v4", 3)])
        XCTAssertEqual(try XCTUnwrap(s.official["top1"] ?? nil), 2.0 / 3, accuracy: 1e-12)
        XCTAssertEqual(try XCTUnwrap(s.official["top3"] ?? nil), 1, accuracy: 1e-12)
        XCTAssertEqual(try XCTUnwrap(s.allClass["top1"]), 2.0 / 4, accuracy: 1e-12)
    }

    func testAClassWithoutVideosMakesTheOfficialFigureUndefined() {
        let s = score("v1 1\nv2 2\n", truth: [("v1", 1), ("v2", 2)])  // C (3) has no videos
        XCTAssertEqual(s.official["top1"], .some(nil))
        XCTAssertEqual(s.classesWithoutVideos, [3])
        XCTAssertTrue(s.warnings.contains { $0.contains("official figure is undefined") && $0.contains("3 'C'") })
        XCTAssertEqual(s.allClass["top1"], 1)
    }

    func testEmptySubmissionIsAllMisses() throws {
        let s = score("", truth: [("v1", 1), ("v2", 2), ("v3", 3)])
        XCTAssertEqual(try XCTUnwrap(s.official["top1"] ?? nil), 0)
        XCTAssertEqual(s.missingPredictions, 3)
        XCTAssertTrue(s.warnings.contains { $0.contains("the submission is empty") })
    }

    func testSubmissionParsingEdgeCases() {
        let sub = Submission.parse("a 1 2\r\nb 3  4\n\n c 5\nd +6 07 x 9 10 11\n", source: "f")
        XCTAssertEqual(sub.order, ["a", "b", "d"])
        XCTAssertEqual(sub.predictions["a"], [1, 2])
        XCTAssertEqual(sub.predictions["b"], [3, nil, 4])  // a double space is an empty token: a miss
        XCTAssertEqual(sub.predictions["d"], [6, 7, nil, 9, 10])
        XCTAssertTrue(sub.warnings.contains("f:4: line starts with a space; ignored"))
        XCTAssertEqual(Submission.render(videoIDs: ["x", "y"], rankedClasses: [[3, 1, 2, 5, 4, 6], [1]]), "x 3 1 2 5 4\ny 1\n")
    }

    /// On the real challenge annotations: a synthetic submission with known hits per class.
    func testRealValidationSetWithKnownHitsPerClass() throws {
        let dir = try requireFixture(URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/kinetics400vipriors").path)
        let (classesPath, labelsPath) = try locateAnnotations(directory: dir, split: "val")
        let classes = try ClassIndex(contentsOf: classesPath)
        XCTAssertEqual(classes.count, 400)
        XCTAssertEqual(classes.names.last, "zumba")
        let truth = try LabelledVideos(contentsOf: labelsPath, classes: classes)
        XCTAssertEqual(truth.videoIDs.count, 10_000)

        let text = syntheticSubmission(truth: truth)
        let s = ChallengeScore.compute(truth: truth, classes: classes, submission: Submission.parse(text, source: "synthetic"))
        let expected = expectedFigures()
        XCTAssertEqual(try XCTUnwrap(s.official["top1"] ?? nil), expected.official[0], accuracy: 1e-12)
        XCTAssertEqual(try XCTUnwrap(s.official["top3"] ?? nil), expected.official[1], accuracy: 1e-12)
        XCTAssertEqual(try XCTUnwrap(s.official["top5"] ?? nil), expected.official[2], accuracy: 1e-12)
        XCTAssertEqual(try XCTUnwrap(s.allClass["top1"]), expected.allClass[0], accuracy: 1e-12)
        XCTAssertEqual(s.missingPredictions, 0)
        XCTAssertTrue(s.warnings.isEmpty, "\(s.warnings)")
    }
}

/// Per class c (1..400) of 25 videos: the first a(c) are hits at rank 1, the next b(c) at rank 3,
/// the next d(c) at rank 5, the rest misses whose five predictions are other classes in 1..399.
func hitCounts(_ c: Int) -> (a: Int, b: Int, d: Int) { (c % 11, c % 7, c % 5) }

func syntheticSubmission(truth: LabelledVideos) -> String {
    var seen: [Int: Int] = [:]
    var lines: [String] = []
    for (id, c) in zip(truth.videoIDs, truth.classes) {
        let j = seen[c, default: 0]
        seen[c] = j + 1
        var ranked = (1...5).map { ((c + $0) % 399) + 1 }  // never c
        let (a, b, d) = hitCounts(c)
        if j < a { ranked[0] = c } else if j < a + b { ranked[2] = c } else if j < a + b + d { ranked[4] = c }
        lines.append(([id] + ranked.map(String.init)).joined(separator: " "))
    }
    return lines.joined(separator: "\n") + "\n"
}

func expectedFigures() -> (official: [Double], allClass: [Double]) {
    func mean(_ range: ClosedRange<Int>, _ hits: (Int) -> Int) -> Double {
        range.reduce(0.0) { $0 + Double(hits($1)) / 25 } / Double(range.count)
    }
    let top1: (Int) -> Int = { hitCounts($0).a }
    let top3: (Int) -> Int = { hitCounts($0).a + hitCounts($0).b }
    let top5: (Int) -> Int = { hitCounts($0).a + hitCounts($0).b + hitCounts($0).d }
    return ([mean(1...399, top1), mean(1...399, top3), mean(1...399, top5)],
            [mean(1...400, top1), mean(1...400, top3), mean(1...400, top5)])
}
