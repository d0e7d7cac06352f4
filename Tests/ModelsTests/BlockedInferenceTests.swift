@testable import Engine
@testable import Models
import XCTest

/// The ResNets' inference in oneDNN's layouts (`VideoResNet.blockedFeatures`: batch norm, residual
/// sums and ReLUs as the convolutions' post-ops) against the engine's own ops, in evaluation mode
/// with batch norm statistics and affine parameters far from their initial values.
final class BlockedInferenceTests: XCTestCase {
    func model(_ block: VideoResNet.Block, blocks: [Int], tclr: Bool = false, width: Double = 0.25) -> VideoResNet {
        var g = SeededGenerator(seed: 3)
        let m = VideoResNet(classes: 7, block: block, blocks: blocks, width: width, tclr: tclr, generator: &g)
        for (name, t) in m.namedBuffers() + m.namedParameters() where name.contains("running") || name.hasSuffix(".1.weight") || name.hasSuffix(".1.bias") {
            // Running statistics and batch norm affines drawn away from 0 / 1 (variances positive).
            t.data = t.data.indices.map { _ in name.contains("running_var") ? Float(0.5 + abs(g.normal())) : Float(g.normal() * 0.3) }
        }
        m.train(false)
        return m
    }

    func check(_ m: VideoResNet, input: [Int], file: StaticString = #filePath, line: UInt = #line) {
        var g = SeededGenerator(seed: 4)
        let x = Tensor(shape: input, data: (0..<input.reduce(1, *)).map { _ in Float(g.normal()) })
        let (blocked, plain) = Autograd.withoutGradients { (m.blockedFeatures(x), m.features(x)) }
        guard let blocked else { return XCTFail("the blocked path did not run", file: file, line: line) }
        XCTAssertEqual(blocked.shape, plain.shape, file: file, line: line)
        let differing = zip(blocked.data, plain.data).filter { $0.0 != $0.1 }.count
        let scale = plain.data.map(abs).max() ?? 1
        let worst = zip(blocked.data, plain.data).map { abs($0.0 - $0.1) }.max() ?? 0
        XCTAssertTrue(plain.data.contains(0) && plain.data.contains { $0 > 0 }, "the last ReLU cuts some values", file: file, line: line)
        XCTAssertEqual(differing, 0, "values differing from the engine's ops: \(differing) of \(plain.count), worst \(worst) (max |y| \(scale))",
                       file: file, line: line)
        // Through the classifier too: the model's output is the blocked path's in evaluation.
        let logits = Autograd.withoutGradients { m(x) }
        XCTAssertEqual(logits.data, Autograd.withoutGradients { m.fc(plain.adaptiveAvgPool3d([1, 1, 1]).flattened()).data }, file: file, line: line)
    }

    func testR3D18() { check(model(.basic, blocks: [2, 2, 2, 2]), input: [2, 3, 8, 32, 32]) }
    func testR3D18TCLR() { check(model(.basic, blocks: [1, 1, 1, 1], tclr: true), input: [1, 3, 8, 32, 32]) }
    func testR3D50() { check(model(.bottleneck, blocks: [1, 2, 1, 1]), input: [1, 3, 8, 32, 32]) }
    /// At 4x16x16 the last stage is a single position (1x1x1), padded on every side.
    func testR3D18SmallInput() { check(model(.basic, blocks: [1, 1, 1, 1]), input: [1, 3, 4, 16, 16]) }

    /// Width 0.3: 19, 38, 77 and 154 channels, so the blocked layouts carry padding channels.
    func testR3D18WithPaddedChannelBlocks() { check(model(.basic, blocks: [1, 1, 1, 1], width: 0.3), input: [1, 3, 8, 32, 32]) }

    /// A residual in another layout than the block's output (plain against blocked) is reordered
    /// first; the sum and ReLU equal `Tensor.addingReLU`'s.
    func testResidualSumAcrossLayouts() {
        var g = SeededGenerator(seed: 6)
        let conv = Conv3d(16, 16, kernel: [3, 3, 3], padding: [1, 1, 1], generator: &g)
        let bn = BatchNorm(16)
        bn.train(false)
        let x = Tensor(shape: [1, 16, 4, 8, 8], data: (0..<(16 * 256)).map { _ in Float(g.normal()) })
        let r = Tensor(shape: [1, 16, 4, 8, 8], data: (0..<(16 * 256)).map { _ in Float(g.normal()) })
        let (blocked, plain) = Autograd.withoutGradients {
            (BlockedActivation(x)?.convBatchNorm(conv, bn, relu: false)?.addingReLU(BlockedActivation(r)!)?.tensor(), bn(conv(x)).addingReLU(r))
        }
        XCTAssertEqual(blocked?.data.map(\.bitPattern), plain.data.map(\.bitPattern))
        XCTAssertTrue(plain.data.contains(0) && plain.data.contains { $0 > 0 })
    }

    /// Batch norm on an activation in the plain layout (where oneDNN picks no blocking, as it may on
    /// other CPUs) against the op, bit for bit.
    func testBatchNormOnAPlainLayout() {
        var g = SeededGenerator(seed: 5)
        let bn = BatchNorm(5)
        bn.running_mean.data = (0..<5).map { _ in Float(g.normal()) }
        bn.running_var.data = (0..<5).map { _ in Float(0.5 + abs(g.normal())) }
        bn.weight.data = (0..<5).map { _ in Float(g.normal()) }
        bn.train(false)
        let x = Tensor(shape: [2, 5, 3, 4, 6], data: (0..<720).map { _ in Float(g.normal()) })
        for relu in [false, true] {
            let (blocked, plain) = Autograd.withoutGradients { (BlockedActivation(x)?.batchNormed(bn, relu: relu)?.tensor(), bn(x, relu: relu)) }
            XCTAssertEqual(blocked?.data.map(\.bitPattern), plain.data.map(\.bitPattern), "relu \(relu)")
        }
    }

    func testTrainingModeAndRecordedGradientsTakeThePlainOps() {
        let m = model(.basic, blocks: [1, 1, 1, 1])
        let x = Tensor(shape: [1, 3, 4, 16, 16], data: [Float](repeating: 0.5, count: 3 * 4 * 16 * 16))
        XCTAssertNil(m.blockedFeatures(x), "gradients are recorded")
        m.train(true)
        XCTAssertNil(Autograd.withoutGradients { m.blockedFeatures(x) }, "training mode")
        m.train(false)
        XCTAssertNil(ConvolutionBackend.with(.gemm) { Autograd.withoutGradients { m.blockedFeatures(x) } }, "the reference backend")
        XCTAssertNotNil(Autograd.withoutGradients { m.blockedFeatures(x) })
    }
}
