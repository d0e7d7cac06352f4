import Engine
import Foundation
import Models
import Safetensors
import XCTest

/// vipbench against torchvision on the same weights and inputs. The fixtures were made by
/// Tests/Fixtures/parity/make_parity_fixtures.py (torch 2.13, torchvision 0.28); no Python here.
final class ParityTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/parity").path

    /// max |ours - theirs| / max |theirs|: the "relative error".
    func relativeError(_ ours: [Float], _ theirs: [Float]) -> Float {
        precondition(ours.count == theirs.count)
        let scale = theirs.map(abs).max() ?? 1
        return zip(ours, theirs).map { abs($0 - $1) }.max()! / scale
    }

    /// make_parity_fixtures.py's `formula_fill`: the k-th value through the state dict (keys with
    /// these prefixes, floating tensors only) from an integer hash and exactly rounded double
    /// arithmetic, so both sides hold the same Float32 weights.
    func formulaFill(_ model: Module, prefixes: [String]) {
        var k: UInt64 = 0
        for (name, t) in model.stateDict() where prefixes.contains(where: { name.hasPrefix($0) }) && !name.hasSuffix("num_batches_tracked") {
            let fanIn = t.shape.dropFirst().reduce(1, *)
            let power = (log2(Double(fanIn).squareRoot())).rounded()
            var values = [Float](repeating: 0, count: t.count)
            for i in 0..<t.count {
                let h = ((k + UInt64(i)) &* 2_654_435_761 &+ 12345) % (1 << 32)
                let u = (Double((h >> 8) % 2001) - 1000) / 1000
                let v: Double
                if t.rank > 1 { v = u / pow(2, power) }
                else if name.hasSuffix("running_var") || name.hasSuffix("weight") { v = 1 + u / 2 }
                else { v = u / 10 }
                values[i] = Float(v)
            }
            t.assign(values)
            k += UInt64(t.count)
        }
        XCTAssertEqual(k, 1_145_152, "the Float values make_parity_fixtures.py filled")
    }

    /// The first blocks of torchvision's r3d_18 (stem, layer1, the strided layer2.0 with its
    /// shortcut), batch norms in evaluation mode with non-trivial statistics.
    func testR3D18BlocksMatchTorchvision() throws {
        var g = SeededGenerator(seed: 0)
        let model = VideoResNet(generator: &g)
        formulaFill(model, prefixes: ["stem.", "layer1.", "layer2.0."])
        model.eval()
        let (xs, x) = try NPY.read("\(Self.fixtures)/r3d18_stem_layer2.0_input.npy")
        let (ys, y) = try NPY.read("\(Self.fixtures)/r3d18_stem_layer2.0_output.npy")
        let out = Autograd.withoutGradients { () -> Tensor in
            var h = model.stem(Tensor(shape: xs, data: x))
            for b in model.layer1 { h = b(h) }
            return model.layer2[0](h)
        }
        XCTAssertEqual(out.shape, ys)
        XCTAssertLessThan(relativeError(out.data, y), 1e-4)
        XCTAssertGreaterThan(y.map(abs).max()!, 0.1, "a fixture of zeros would prove nothing")
    }

    /// A whole MViT (mvit_v1_b's 16 blocks at first dimension 8, clips 4x32x32): every state_dict
    /// key loads strictly, and the logits match.
    func testMViTMatchesTorchvision() throws {
        var g = SeededGenerator(seed: 0)
        let model = MViT(classes: 5, width: 8.0 / 96, clip: [4, 32, 32], generator: &g)
        try Checkpoint.load(model, from: "\(Self.fixtures)/mvit_d8.safetensors")
        model.eval()
        let (xs, x) = try NPY.read("\(Self.fixtures)/mvit_d8_input.npy")
        let (ys, y) = try NPY.read("\(Self.fixtures)/mvit_d8_logits.npy")
        let logits = Autograd.withoutGradients { model(Tensor(shape: xs, data: x)) }
        XCTAssertEqual(logits.shape, ys)
        XCTAssertLessThan(relativeError(logits.data, y), 1e-4)
        // The two clips get different logits: the fixture is not degenerate.
        XCTAssertGreaterThan(zip(y[0..<5], y[5..<10]).map { abs($0 - $1) }.max()!, 0.1)
    }
}
