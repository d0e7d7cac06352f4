import Engine
import Foundation
import Models
import XCTest
@testable import Training

/// LayerScale (an MViT option, not MViT-B's) is part of a configuration: nil leaves every existing
/// configuration's JSON and hash as they were, a value builds the blocks with it, and other models
/// refuse it.
final class LayerScaleConfigurationTests: XCTestCase {
    func testLayerScaleIsOptionalAndOnlyForMViT() throws {
        var plain = TrainingConfiguration(model: .mvitB, classes: 4, epochs: 1, batch: 2, optimizer: .adamwDefault,
                                          parameterGroups: ParameterGroups(weightDecay: 0.05, noDecayOnOneDimensional: true),
                                          schedule: LearningRateSchedule(base: 1e-3, shape: .cosine(end: 0, afterWarmup: false), epochs: 1))
        plain.width = 8.0 / 96; plain.clip = "4x2"; plain.shortSide = 32; plain.crop = 32
        var scaled = plain
        scaled.layerScale = 1e-4
        let json = String(decoding: try JSONEncoder().encode(plain), as: UTF8.self)
        XCTAssertFalse(json.contains("layerScale"), "configurations without it keep their hashes")
        XCTAssertNotEqual(plain.hash, scaled.hash)
        XCTAssertNoThrow(try scaled.validate())

        guard case .classifier(let model) = try TrainingSetup.network(scaled), let mvit = model as? MViT else {
            return XCTFail("an MViT classifier")
        }
        XCTAssertEqual(mvit.blocks[3].ls2?.gamma.data.first, 1e-4)
        // nil and 0 / NaN / other models: refused with the reason.
        var r3d = plain
        r3d.model = .r3d18; r3d.layerScale = 1e-4
        XCTAssertThrowsError(try r3d.validate()) { XCTAssertTrue("\($0)".contains("mvit-b"), "\($0)") }
        scaled.layerScale = 0
        XCTAssertThrowsError(try scaled.validate())
    }
}
