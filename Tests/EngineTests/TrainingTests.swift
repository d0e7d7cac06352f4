@testable import Engine
import XCTest

/// A small 3D CNN built from the engine's layers, named the way torchvision names things.
final class TinyVideoNet: Module, Layer {
    let stem: Sequential
    let layer1: [Block]
    let fc: Linear

    final class Block: Module, Layer {
        let conv1: Conv3d
        let bn1: BatchNorm
        init(_ c: Int, generator: inout SeededGenerator) {
            conv1 = Conv3d(c, c, kernel: [3, 3, 3], padding: [1, 1, 1], generator: &generator)
            bn1 = BatchNorm(c)
        }
        func callAsFunction(_ x: Tensor) -> Tensor { (bn1(conv1(x)) + x).relu() }
    }

    init(classes: Int, generator: inout SeededGenerator) {
        stem = Sequential([Conv3d(3, 8, kernel: [3, 5, 5], stride: [1, 2, 2], padding: [1, 2, 2], generator: &generator),
                           BatchNorm(8), ReLU()])
        layer1 = [Block(8, generator: &generator), Block(8, generator: &generator)]
        fc = Linear(8, classes, initialisation: .normal(0.01), generator: &generator)
    }

    func callAsFunction(_ x: Tensor) -> Tensor {
        var h = stem(x)
        for b in layer1 { h = b(h) }
        return fc(h.adaptiveAvgPool3d([1, 1, 1]).flattened())
    }
}

final class TrainingTests: XCTestCase {
    func testParameterAndBufferNamesFollowTorchvision() {
        var g = SeededGenerator(seed: 1)
        let net = TinyVideoNet(classes: 4, generator: &g)
        let names = net.stateDict().map(\.0)
        XCTAssertEqual(Array(names.prefix(7)), ["stem.0.weight", "stem.1.weight", "stem.1.bias", "stem.1.running_mean",
                                                "stem.1.running_var", "stem.1.num_batches_tracked", "layer1.0.conv1.weight"])
        XCTAssertTrue(names.contains("layer1.1.bn1.running_var"))
        XCTAssertEqual(Array(names.suffix(2)), ["fc.weight", "fc.bias"])
        XCTAssertEqual(net.namedBuffers().count, 9)
        XCTAssertEqual(net.parameterCount, 8 * 3 * 75 + 2 * (8 * 8 * 27 + 16) + 16 + 8 * 4 + 4)
        net.eval()
        XCTAssertFalse(net.layer1[1].bn1.training)
        net.train()
        XCTAssertTrue(net.stem.layers[1].training)
    }

    func testKaimingInitialisationHasTheRightScale() {
        var g = SeededGenerator(seed: 2)
        let conv = Conv3d(64, 128, kernel: [3, 3, 3], generator: &g)
        let std = (conv.weight.data.reduce(0) { $0 + Double($1) * Double($1) } / Double(conv.weight.count)).squareRoot()
        XCTAssertEqual(std, (2.0 / (128 * 27)).squareRoot(), accuracy: 0.002)
    }

    /// Plain SGD with momentum over a fixed random batch: the loss must fall to near zero
    /// (memorisation), along the same curve every time.
    func memorise(seed: UInt64, steps: Int) -> [Float] {
        var g = SeededGenerator(seed: seed)
        let net = TinyVideoNet(classes: 4, generator: &g)
        let x = Tensor(randomNormal: [4, 3, 4, 16, 16], generator: &g)
        let labels = [0, 1, 2, 3]
        var velocity = net.parameters.map { [Float](repeating: 0, count: $0.count) }
        var losses: [Float] = []
        for _ in 0..<steps {
            net.zeroGrad()
            let loss = net(x).crossEntropy(labels: labels)
            losses.append(loss.scalar)
            loss.backward()
            for (i, p) in net.parameters.enumerated() {
                for k in 0..<p.count {
                    velocity[i][k] = 0.9 * velocity[i][k] + p.grad![k]
                    p.data[k] -= 0.1 * velocity[i][k]
                }
            }
            loss.releaseGraph()
        }
        return losses
    }

    func testMemorisesAFixedBatchAlongAFixedCurve() {
        let losses = memorise(seed: 7, steps: 60)
        XCTAssertEqual(Double(losses[0]), Foundation.log(4.0), accuracy: 0.05, "starts near chance")
        XCTAssertLessThan(losses.last!, 0.05, "\(losses)")
        XCTAssertLessThan(losses[10], losses[0])
        // The curve measured here (OpenBLAS 0.3.21, 2 threads); 1 % slack for other CPUs' kernels.
        let expected: [(step: Int, loss: Float)] = [(0, 1.3867729), (10, 1.3509715), (20, 0.7186964), (30, 0.02537191)]
        for (step, loss) in expected {
            XCTAssertEqual(losses[step], loss, accuracy: loss * 0.01, "step \(step)")
        }
        // Bit-identical on a second run with the same seed and threads.
        XCTAssertEqual(memorise(seed: 7, steps: 60), losses)
    }
}

import Foundation
