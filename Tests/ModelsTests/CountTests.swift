import Engine
import Foundation
import Models
import TestSupport
import XCTest

/// Counts by walking the built networks against models.md, and names against torchvision's.
final class CountTests: XCTestCase {
    func cost(_ name: Architecture, _ input: [Int]) throws -> (gmacs: Double, params: Int) {
        var g = SeededGenerator(seed: 0)
        let model = ModelZoo.make(name, inputChannels: input[0], clip: Array(input.dropFirst()), generator: &g)
        let t = ModelZoo.cost(model, input: input)
        XCTAssertEqual(t.parameters, model.parameterCount, "\(name): traced parameters vs the module's own")
        return (Double(t.macs) / 1e9, t.parameters)
    }

    /// GMACs within 0.05 % and parameters exact (or to the stated rounding) for every row.
    func testEveryRowOfModelsMd() throws {
        let rows: [(Architecture, [Int], Double, Int, Int)] = [
            (.r3d18, [3, 16, 112, 112], 40.697, 33_371_472, 1),
            (.r3d18, [2, 16, 112, 112], 40.224, 33_362_000, 1000),
            (.r3d18TCLR, [3, 16, 112, 112], 43.137, 33_371_472, 1),
            (.r3d18TCLR, [2, 16, 112, 112], 42.665, 33_362_000, 1000),
            (.r3d50, [3, 16, 224, 224], 218.688, 46_981_000, 1000),
            (.r3d50Hara, [3, 16, 224, 224], 39.846, 47_019_000, 1000),
            (.i3d, [3, 16, 224, 224], 27.788, 12_697_000, 1000),
            (.i3d, [2, 16, 224, 224], 25.585, 12_675_000, 1000),
            (.i3d, [3, 64, 224, 224], 111.153, 12_697_000, 1000),
            (.mvitB, [3, 16, 224, 224], 70.599, 36_610_672, 1),
        ]
        for (name, input, gmacs, params, rounding) in rows {
            let c = try cost(name, input)
            XCTAssertEqual(c.gmacs, gmacs, accuracy: gmacs * 0.0005, "\(name) \(input) GMACs")
            XCTAssertEqual((c.params + rounding / 2) / rounding * rounding, params, "\(name) \(input) parameters")
        }
    }

    func testI3DRunsForwardWhereTheTraceSays() throws {
        var g = SeededGenerator(seed: 0)
        let m = I3D(classes: 5, width: 0.0625, generator: &g)
        m.eval()
        let x = Tensor(randomNormal: [1, 3, 8, 64, 64], generator: &g)
        let y = Autograd.withoutGradients { m(x) }
        XCTAssertEqual(y.shape, [1, 5])
        XCTAssertEqual(ModelZoo.cost(m, input: [3, 8, 64, 64]).entries.last?.outputShape.prefix(2).map { $0 }, [1, 5])
        XCTAssertTrue(m.stateDict().map(\.0).contains("Mixed_4f.b2b.conv3d.weight"))
        XCTAssertTrue(m.stateDict().map(\.0).contains("logits.conv3d.bias"))
    }

    func testTCLRStageFourKeepsTime() {
        var g = SeededGenerator(seed: 0)
        let m = VideoResNet(tclr: true, generator: &g)
        var t = CostTrace()
        _ = m.trace([1, 3, 16, 112, 112], &t)
        XCTAssertEqual(t.entries.first { $0.name == "layer4.1.conv2.1" }?.outputShape, [1, 512, 4, 7, 7])
        var h = SeededGenerator(seed: 0)
        var u = CostTrace()
        _ = VideoResNet(generator: &h).trace([1, 3, 16, 112, 112], &u)
        XCTAssertEqual(u.entries.first { $0.name == "layer4.1.conv2.1" }?.outputShape, [1, 512, 2, 7, 7])
    }

    /// Every torchvision state_dict key, shape and kind, in order.
    func testStateDictNamesMatchTorchvision() throws {
        let dir = try requireFixture(URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/state-dict-keys").path)
        for (file, name): (String, Architecture) in [("r3d_18.tsv", .r3d18), ("r3d50-torchvision-style.tsv", .r3d50), ("mvit_v1_b.tsv", .mvitB)] {
            let lines = try String(contentsOfFile: try requireFixture("\(dir)/\(file)"), encoding: .utf8).split(separator: "\n").dropFirst()
            let expected = lines.map { $0.split(separator: "\t").map(String.init) }
            var g = SeededGenerator(seed: 0)
            let model = ModelZoo.make(name, generator: &g)
            let ours = model.stateDict().map { key, t -> [String] in
                [key, t.shape.isEmpty ? "scalar" : t.shape.map(String.init).joined(separator: "x"), t.isBuffer ? "buffer" : "parameter"]
            }
            XCTAssertEqual(ours.count, expected.count, file)
            for (o, e) in zip(ours, expected) where o != e { XCTFail("\(file): \(o) vs \(e)"); break }
        }
    }

    func testScaledProfileKeepsTheTopology() throws {
        var g = SeededGenerator(seed: 0)
        let m = VideoResNet(classes: 10, width: 0.25, generator: &g)
        let t = ModelZoo.cost(m, input: [3, 16, 64, 64])
        XCTAssertEqual(t.entries.last?.outputShape, [1, 10])
        XCTAssertEqual(m.stem.layers.count, 3)
        XCTAssertEqual((m.stem.layers[0] as! Conv3d).weight.shape, [16, 3, 3, 7, 7])
        XCTAssertEqual(m.fc.weight.shape, [10, 128])
        // The traced shapes agree with a real forward pass.
        let x = Tensor(randomNormal: [1, 3, 8, 32, 32], generator: &g)
        let y = Autograd.withoutGradients { m(x) }
        XCTAssertEqual(y.shape, ModelZoo.cost(m, input: [3, 8, 32, 32]).entries.last?.outputShape)
    }

    /// A scaled MViT: the traced token shapes are the ones a real forward pass makes, and one
    /// training step reaches every parameter with a finite gradient.
    func testScaledMViTTrainsAndTracesItsRealShapes() throws {
        var g = SeededGenerator(seed: 0)
        let m = MViT(classes: 4, width: 16.0 / 96, clip: [4, 32, 32], generator: &g)
        XCTAssertEqual(m.blocks[15].norm1.weight.shape, [128], "d0 16 -> 128 channels in the last stage")
        XCTAssertEqual(m.blocks[14].attn.heads, 8)
        XCTAssertEqual(m.blocks[14].attn.headDim, 16)
        let t = ModelZoo.cost(m, input: [3, 4, 32, 32])
        XCTAssertEqual(t.entries.last?.outputShape, [1, 4])
        XCTAssertEqual(t.entries.first { $0.name == "blocks.14.attn.project.0" }?.outputShape, [1, 1 + 2 * 1 * 1, 128])
        XCTAssertEqual(t.parameters, m.parameterCount)
        let x = Tensor(randomNormal: [2, 3, 4, 32, 32], generator: &g)
        let loss = m(x).crossEntropy(labels: [1, 3])
        loss.backward()
        for (name, p) in m.namedParameters() {
            let grad = try XCTUnwrap(p.grad, "\(name) got no gradient")
            XCTAssertTrue(grad.allSatisfy(\.isFinite), name)
        }
        // Dropout and stochastic depth draw new masks each training step; evaluation repeats itself.
        let s1 = Autograd.withoutGradients { m(x) }, s2 = Autograd.withoutGradients { m(x) }
        XCTAssertNotEqual(s1.data, s2.data)
        m.eval()
        let a = Autograd.withoutGradients { m(x) }, b = Autograd.withoutGradients { m(x) }
        XCTAssertEqual(a.data, b.data)
    }
}
