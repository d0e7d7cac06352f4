import Data
import Experiments
import Training
import XCTest

final class ConfigurationTests: XCTestCase {
    func testPaperRowsFollowTable1() throws {
        let rows = Table1Configurations.all(.paper, classes: 400)
        XCTAssertEqual(rows.map(\.training.model.rawValue), ["mvit-b", "i3d", "i3d", "r3d18", "r3d50", "r3d18", "r3d18-tclr"])
        XCTAssertEqual(rows.map(\.training.modality.rawValue), ["rgb", "flow", "flow", "flow", "rgb", "rgb", "rgb"])
        XCTAssertEqual(rows.map(\.training.clip), ["16x4", "16x2", "16x4", "16x2", "16x2", "16x2", "16x2"])
        XCTAssertEqual(rows.map(\.test.views), ["3x10", "3x10", "3x5", "3x10", "3x10", "3x10", "3x10"])
        XCTAssertEqual(rows.map(\.training.crop), [224, 224, 224, 112, 224, 112, 112])
        XCTAssertEqual(rows.map { $0.pretraining != nil }, [false, false, false, false, true, false, true])
        XCTAssertEqual(rows.map(\.training.epochs), [200, 150, 150, 150, 150, 150, 150])
        XCTAssertEqual(rows[4].pretraining?.epochs, 400)
        XCTAssertEqual(rows.map(\.row.paperTop1), [51.3, 40.5, 42.1, 31.9, 61.1, 33.2, 46.0])
        for r in rows {
            XCTAssertNoThrow(try r.training.validate(), r.name)
            if let p = r.pretraining { XCTAssertNoThrow(try p.validate(), r.name) }
            XCTAssertFalse(r.choices.isEmpty, "\(r.name) names the choices the report leaves open")
        }
        XCTAssertEqual(rows[0].name, "row1_mvit-b_rgb_scratch_16x4x3x10_paper")
        XCTAssertEqual(Set(rows.map(\.hash)).count, 7)
    }

    func testScaledProfilesValidateAndDiffer() throws {
        for p in [Profile.mini, .smoke] {
            for r in Table1Configurations.all(p, classes: 10) {
                XCTAssertNoThrow(try r.training.validate(), r.name)
                if let pre = r.pretraining { XCTAssertNoThrow(try pre.validate(), r.name) }
                XCTAssertEqual(r.training.crop, 32)
                XCTAssertEqual(r.training.flipProbability, 0, "the motion set is not flip-invariant")
            }
        }
        XCTAssertNotEqual(Table1Configurations.row(.r3d18, profile: .mini, classes: 10).hash,
                          Table1Configurations.row(.r3d18, profile: .smoke, classes: 10).hash)
        // 8 frames spanning the paper's 32 frames (16x2), or as many of its 64 (16x4) as the
        // shortest embedded video holds; mini's I3D rows keep 16 frames at half the paper's skip;
        // TCLR's pretraining keeps its tiling (frames / 4 = skip).
        let mini = Table1Configurations.all(.mini, classes: 10)
        XCTAssertEqual(mini.map(\.training.clip), ["8x5", "16x1", "16x2", "8x4", "8x4", "8x4", "8x4"])
        XCTAssertEqual(Table1Configurations.all(.smoke, classes: 10).map(\.training.clip), ["8x5", "8x4", "8x5", "8x4", "8x4", "8x4", "8x4"])
        XCTAssertEqual(mini[6].pretraining?.clip, "8x2")
        // Scaled RGB and I3D flow rows train with Adam, the flow R3D-18 with SGD (each measured on the motion set).
        XCTAssertEqual(mini[5].training.optimizer, .adamDefault)
        XCTAssertEqual(mini[3].training.optimizer, .sgdNesterov)
        XCTAssertEqual(mini[1].training.optimizer, .adamDefault, "the scaled I3D flow rows take the RGB rows' Adam")
        XCTAssertEqual(Profile.mini.embeddedDataset?.options.perClass.train, 40)
        XCTAssertNil(Profile.paper.embeddedDataset)
    }

    func testRunWideSettingsChangeTheHashOnlyWhenOn() {
        let plain = Table1Configurations.row(.r3d18TCLR, profile: .mini, classes: 10)
        var c = plain
        c.apply(syncBatchNorm: false, bf16Convolutions: false)
        XCTAssertEqual(c.hash, plain.hash)
        c.apply(syncBatchNorm: false, bf16Convolutions: true)
        XCTAssertNotEqual(c.hash, plain.hash)
        XCTAssertEqual(c.training.bf16Convolutions, true)
        XCTAssertEqual(c.pretraining?.bf16Convolutions, true, "pretraining runs in the same mode")
        XCTAssertEqual(c.name, plain.name + "_bf16")
    }

    func testPlanCountsClipsAndCost() {
        let c = Table1Configurations.row(.r3d18TCLR, profile: .paper, classes: 400)
        let s = Planner.stages(c, trainVideos: 40_000, valVideos: 10_000, testVideos: 20_000)
        XCTAssertEqual(s.map(\.kind), [.pretrain, .train, .test])
        XCTAssertEqual(s[0].clips, 40_000 * 400 * 10)
        XCTAssertEqual(s[1].gmacsPerClip, 43.137, accuracy: 0.002, "models.md's TCLR R3D-18 at 3x16x112x112")
        XCTAssertEqual(s[2].clips, 30_000 * 30)
        let flow = Planner.stages(Table1Configurations.row(.i3dFlow16x4, profile: .paper, classes: 400), trainVideos: 1, valVideos: 1, testVideos: 1)
        XCTAssertEqual(flow.first?.kind, .flow)
        XCTAssertEqual(flow.last?.clips, 2 * 15)
    }

    /// Shared stages are counted once: the flow extraction for rows 2-4, and an identical TCLR
    /// pretraining (rows 5 and 7 pretrain their own backbones); flow is extracted at the scaled
    /// rows' short side, and at the videos' own size for the paper's.
    func testSharedStagesAndTheFlowExtractionSize() {
        let mini = Table1Row.allCases.map { Table1Configurations.row($0, profile: .mini, classes: 10) }
        let plan = Planner.stages(mini, trainVideos: 400, valVideos: 100, testVideos: 50)
        let flows = plan.filter { $0.stage.kind == .flow }
        XCTAssertEqual(flows.map(\.config.row), [.i3dFlow16x2, .i3dFlow16x4, .r3d18Flow])
        XCTAssertEqual(flows.map(\.stage.clips), [550 * 300, 0, 0])
        let pretrainings = plan.filter { $0.stage.kind == .pretrain }
        XCTAssertEqual(pretrainings.map(\.config.row), [.r3d50TCLR, .r3d18TCLR])
        XCTAssertEqual(pretrainings.map { $0.config.pretraining?.model }, [.r3d50, .r3d18TCLR])
        XCTAssert(pretrainings.allSatisfy { $0.stage.clips > 0 }, "two backbones, two pretrainings")
        // A row whose fine-tuning differs but whose pretraining is row 7's shares it.
        var longer = mini[6]
        longer.training.epochs += 1
        let shared = Planner.stages([mini[6], longer], trainVideos: 400, valVideos: 100, testVideos: 50).filter { $0.stage.kind == .pretrain }
        XCTAssertEqual(shared.map { $0.stage.clips > 0 }, [true, false])
        XCTAssertEqual(shared.last?.stage.note, "shared with row 7 (the same configuration): run once")
        XCTAssertEqual(Planner.flowExtraction(mini), Planner.FlowExtraction(shortSide: 40))
        XCTAssertNil(Planner.flowExtraction(mini.filter { $0.training.modality == .rgb }))
        let paper = [Table1Configurations.row(.i3dFlow16x2, profile: .paper, classes: 400)]
        XCTAssertEqual(Planner.flowExtraction(paper), Planner.FlowExtraction(shortSide: nil))
    }
}
