import Data
import Foundation
import Plot
@testable import Training
import XCTest
@testable import Experiments

/// The report's plots are drawn from the runner's outcomes: their data files must say what the
/// outcomes say (means over seeds, GMACs x views, the per-seed pairs), and gnuplot must draw them.
final class ReportFiguresTests: XCTestCase {
    let configurations = Table1Configurations.all(.mini, classes: 10).filter { [.r3d18, .r3d18TCLR].contains($0.row) }

    func epoch(_ e: Int, loss: Double, top1: Double?) -> EpochRecord {
        EpochRecord(epoch: e, step: 13 * (e + 1), meanLoss: loss, lr: 0.05, clipsPerSecond: 100, seconds: 2,
                    validation: top1.map { ValidationResult(top1: $0, top5: 0.9, loss: 1, videos: 50) }, isBest: false)
    }

    func outcomes() -> [Runner.Outcome] {
        [
            Runner.Outcome(key: "row6", seed: 0, top1: ["1x1": 0.20, "3x10": 0.30], scores: nil, failure: nil,
                           curves: ["train": [epoch(0, loss: 2.3, top1: 0.1), epoch(1, loss: 2.1, top1: 0.2)]]),
            Runner.Outcome(key: "row6", seed: 1, top1: ["1x1": 0.30, "3x10": 0.40], scores: nil, failure: nil,
                           curves: ["train": [epoch(0, loss: 2.1, top1: 0.3), epoch(1, loss: 1.9, top1: 0.4)]]),
            Runner.Outcome(key: "row7", seed: 0, top1: ["3x10": 0.50], scores: nil, failure: nil,
                           curves: ["pretrain": [epoch(0, loss: 80, top1: nil)], "train": [epoch(0, loss: 2.0, top1: 0.5)]]),
            Runner.Outcome(key: "row7", seed: 1, top1: [:], scores: nil, failure: "pretrain: disk full"),
            Runner.Outcome(key: "ensemble", seed: 0, top1: ["3x10": 0.55], scores: nil, failure: nil),
        ]
    }

    func figures() -> [String: Gnuplot.Figure] {
        let gmacs: [Table1Row: Double] = [.r3d18: 0.1, .r3d18TCLR: 0.2]
        let all = ReportFigures.all(profile: .mini, configurations: configurations, outcomes: outcomes(), gmacs: gmacs)
        XCTAssertEqual(all.map(\.name), ReportFigures.names(.mini).map(\.name))
        return Dictionary(uniqueKeysWithValues: all.map { ($0.name, $0) })
    }

    /// The data lines of a figure's file (comments and blank lines dropped), split on tabs.
    func rows(_ f: Gnuplot.Figure?, _ file: String? = nil) -> [[String]] {
        let text = f?.dataFiles[file ?? "\(f?.name ?? "").dat"] ?? ""
        return text.split(separator: "\n").filter { !$0.hasPrefix("#") }.map { $0.split(separator: "\t").map(String.init) }
    }

    func testCurvesAreMeansOverSeedsPerStage() {
        let f = figures()["curves-mini"]
        let text = f?.dataFiles["curves-mini.dat"] ?? ""
        // Blocks in order: row 7's pretraining, then row 6's and row 7's training.
        XCTAssertEqual(text.components(separatedBy: "# block ").count - 1, 3)
        XCTAssert(text.contains("# block 0: row 7 pretrain"), text)
        let r = rows(f)
        XCTAssertEqual(r[0], ["1", "80", "0.05", "NaN", "1"])          // pretraining: no validation
        XCTAssertEqual(r[1], ["1", "2.2", "0.05", "20", "2"])          // row 6 epoch 1: mean of 2.3 and 2.1, of 10 % and 30 %
        XCTAssertEqual(r[2], ["2", "2", "0.05", "30", "2"])
        XCTAssertEqual(r[3], ["1", "2", "0.05", "50", "1"])            // row 7: the failed seed has no curve
        // A row has one colour (line type = row number) in every panel; the validation panel has no key.
        let script = f?.script ?? ""
        XCTAssert(script.contains("index 0 using 1:2 with linespoints lt 7 "), script)   // row 7 pretraining
        XCTAssert(script.contains("index 1 using 1:2 with linespoints lt 6 "), script)   // row 6 training
        XCTAssert(script.contains("index 2 using 1:4 with linespoints lt 7 "), script)   // row 7 validation
        // Both renders (PNG, SVG) run the same body: each sets the key again before unsetting it.
        XCTAssertEqual(script.components(separatedBy: "unset key").count - 1, 2, script)
        XCTAssertEqual(script.components(separatedBy: "set key top right").count - 1, 2, script)
    }

    func testCostPutsEachViewSchemeAtItsGMACsPerVideo() {
        let r = rows(figures()["cost-mini"])
        // Row 6: 1x1 (1 view) and 3x10 (30 views) at 0.1 GMACs per view; row 7: 3x10 only.
        XCTAssertEqual(r.map { Array($0.prefix(3)) }, [["0.1", "25", "1x1"], ["3", "35", "3x10"], ["6", "50", "3x10"]])
    }

    func testTCLRPairsSeedsAndTheEnsembleAndSeedsShowEveryValue() {
        let figs = figures()
        XCTAssertEqual(rows(figs["tclr-mini"]), [["seed 0", "30", "50"], ["seed 1", "40", "NaN"]])
        let e = rows(figs["ensemble-mini"])
        XCTAssertEqual(e.map { $0[1] }, ["35", "50", "55"])
        XCTAssertEqual(e.last?.first, "ensemble (equal weights)")
        XCTAssertEqual(rows(figs["seeds-mini"]).map { $0[1] }, ["30", "40", "50", "55"])
        XCTAssertEqual(rows(figs["seeds-mini"], "seeds-mini-means.dat").map { $0[1] }, ["35", "50", "55"])
    }

    /// The sweep figure exists only when a row carries a sweep, and averages each (rule, crop rule,
    /// clips) over seeds at 3 crops.
    func testSweepIsDrawnFromTheRowsThatHaveOne() throws {
        XCTAssertNil(ReportFigures.sweep(profile: .mini, configurations: configurations, outcomes: outcomes(), chance: 10))
        var o = outcomes()
        func point(_ clips: Int, _ top1: Double, crops: Int = 3) -> Runner.SweepPoint {
            Runner.SweepPoint(rule: .tclr, cropRule: .mmaction, crops: crops, clips: clips, top1: top1, gmacsPerVideo: 0.1 * Double(crops * clips))
        }
        o[0].sweep = [point(1, 0.2), point(10, 0.4), point(1, 0.9, crops: 1)]
        o[1].sweep = [point(1, 0.3), point(10, 0.5)]
        let f = try XCTUnwrap(ReportFigures.sweep(profile: .mini, configurations: configurations, outcomes: o, chance: 10))
        XCTAssertEqual(rows(f), [["1", "25", "0.3", "2"], ["10", "45", "3", "2"]])
        XCTAssert(f.dataFiles["sweep-mini.dat"]?.contains("# block 0: row 6 tclr / mmaction") ?? false)
        let all = ReportFigures.all(profile: .mini, configurations: configurations, outcomes: o, gmacs: [:])
        XCTAssertEqual(all.map(\.name), ReportFigures.names(.mini, sweep: true).map(\.name))
        XCTAssertEqual(all.last?.name, "sweep-mini")
    }

    /// gnuplot draws every figure from these data (also the empty case: nothing recorded yet).
    func testGnuplotDrawsEveryFigure() throws {
        guard (try? Gnuplot.locate()) != nil else { throw XCTSkip("gnuplot is not installed") }
        let dir = NSTemporaryDirectory() + "vipbench-figures-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        var all = Array(figures().values)
        var withSweep = outcomes()
        withSweep[0].sweep = TestSamplingRule.allCases.flatMap { rule in
            [1, 5, 10].map { Runner.SweepPoint(rule: rule, cropRule: .slowfast, crops: 3, clips: $0, top1: 0.3, gmacsPerVideo: 0.1) }
        }
        all.append(try XCTUnwrap(ReportFigures.sweep(profile: .mini, configurations: configurations, outcomes: withSweep, chance: 10)))
        all += ReportFigures.all(profile: .smoke, configurations: configurations, outcomes: [], gmacs: [:])
        // One of the two rows compared alone (reproduce --rows 7): its panel is empty, not an error.
        all += ReportFigures.all(profile: .paper, configurations: configurations, outcomes: outcomes().filter { $0.key == "row7" }, gmacs: [:])
        for f in all {
            _ = try Gnuplot.render(f, into: dir)
            let size = pngSize(atPath: "\(dir)/\(f.name).png")
            XCTAssertNotNil(size, f.name)
            XCTAssertGreaterThan(size?.width ?? 0, 800, f.name)
            XCTAssert(FileManager.default.fileExists(atPath: "\(dir)/\(f.name).svg"), f.name)
        }
    }
}
