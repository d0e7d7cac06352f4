@testable import Engine
import XCTest

/// The channels-last pooling ops against the channels-first ones they replace in MViT, the fused
/// linear layer against its definition, and the tiled transpose against the plain permutation.
final class ChannelsLastTests: XCTestCase {
    /// Values and both gradients of `f` on channels-last input against `reference` on the
    /// channels-first transpose, for one random upstream gradient.
    func compare(_ x: Tensor, _ params: [Tensor], tolerance: Float, file: StaticString = #filePath, line: UInt = #line,
                 channelsLast: (Tensor) -> Tensor, channelsFirst: (Tensor) -> Tensor) {
        let first = Tensor(shape: x.shape, data: x.data, requiresGrad: true)
        let last = Tensor(shape: [x.shape[0]] + Array(x.shape[2...]) + [x.shape[1]],
                          data: x.permuted([0, 2, 3, 4, 1]).data, requiresGrad: true)
        for p in params { p.requiresGrad = true; p.grad = nil }
        let yFirst = channelsFirst(first)
        let r = randomTensor(yFirst.shape, seed: 77)
        (yFirst * r).sum().backward()
        let paramGrads = params.map { $0.grad! }
        for p in params { p.grad = nil }
        let yLast = channelsLast(last)
        XCTAssertEqual(yLast.shape, [yFirst.shape[0]] + Array(yFirst.shape[2...]) + [yFirst.shape[1]], file: file, line: line)
        (yLast * r.permuted([0, 2, 3, 4, 1])).sum().backward()
        func maxError(_ a: [Float], _ b: [Float]) -> Float { zip(a, b).map { abs($0 - $1) }.max() ?? 0 }
        XCTAssertLessThanOrEqual(maxError(yLast.permuted([0, 4, 1, 2, 3]).data, yFirst.data), tolerance, "values", file: file, line: line)
        let gradLast = Tensor(shape: last.shape, data: last.grad!).permuted([0, 4, 1, 2, 3]).data
        XCTAssertLessThanOrEqual(maxError(gradLast, first.grad!), tolerance, "input gradient", file: file, line: line)
        for (p, g) in zip(params, paramGrads) {
            XCTAssertLessThanOrEqual(maxError(p.grad!, g), tolerance, "weight gradient", file: file, line: line)
        }
    }

    func testDepthwiseConvolutionMatchesGroupedConv3d() {
        // MViT's K/V pooling (stride 1x8x8 on an 8x8 grid, 1x4x4), Q pooling (1x2x2), channel
        // counts that are not a multiple of the gradient's 16-channel blocks, and a batch.
        let cases: [(x: [Int], stride: [Int])] = [([1, 16, 4, 8, 8], [1, 8, 8]), ([2, 20, 3, 7, 9], [1, 2, 2]),
                                                  ([1, 5, 4, 6, 6], [1, 1, 1]), ([3, 24, 2, 4, 4], [2, 4, 4])]
        for (i, c) in cases.enumerated() {
            let x = randomTensor(c.x, seed: UInt64(10 + i)), w = randomTensor([c.x[1], 1, 3, 3, 3], seed: UInt64(20 + i))
            compare(x, [w], tolerance: 2e-5,
                    channelsLast: { $0.depthwiseConv3dChannelsLast(weight: w, stride: c.stride, padding: [1, 1, 1]) },
                    channelsFirst: { $0.conv3d(weight: w, bias: nil, stride: c.stride, padding: .symmetric([1, 1, 1]), groups: c.x[1]) })
        }
    }

    func testMaxPoolMatchesChannelsFirstWithTies() {
        // Values on a coarse grid, so windows hold ties: both must pick the first maximum.
        let x = randomTensor([2, 20, 4, 7, 7], seed: 31)   // 20 channels: eight-wide blocks and a tail
        let tied = Tensor(shape: x.shape, data: x.data.map { ($0 * 3).rounded() })
        for (kernel, stride, padding) in [([3, 3, 3], [1, 2, 2], [1, 1, 1]), ([1, 3, 3], [1, 2, 2], [0, 1, 1]), ([1, 9, 9], [1, 8, 8], [0, 4, 4])] {
            compare(tied, [], tolerance: 0,
                    channelsLast: { $0.maxPool3dChannelsLast(kernel: kernel, stride: stride, padding: padding) },
                    channelsFirst: { $0.maxPool3d(kernel: kernel, stride: stride, padding: .symmetric(padding)) })
        }
    }

    func testDepthwiseGradientsAreTheSameAtEveryThreadCount() {
        let x = randomTensor([1, 4, 8, 8, 40], seed: 5), w = randomTensor([40, 1, 3, 3, 3], seed: 6)
        func grads(_ threads: Int) -> [[Float]] {
            Parallel.withThreads(threads) {
                let xi = Tensor(shape: x.shape, data: x.data, requiresGrad: true)
                let wi = Tensor(shape: w.shape, data: w.data, requiresGrad: true)
                let y = xi.depthwiseConv3dChannelsLast(weight: wi, stride: [1, 2, 2], padding: [1, 1, 1])
                (y * y).sum().backward()
                return [y.data, xi.grad!, wi.grad!]
            }
        }
        XCTAssertEqual(grads(1), grads(2))
    }

    func testLinearMatchesItsDefinitionAndFiniteDifferences() {
        let x = randomTensor([2, 5, 7], seed: 1), w = randomTensor([3, 7], seed: 2), b = randomTensor([3], seed: 3)
        let y = x.linear(weight: w, bias: b)
        XCTAssertEqual(y.shape, [2, 5, 3])
        for r in 0..<10 { for o in 0..<3 {
            var s = Double(b.data[o])
            for i in 0..<7 { s += Double(x.data[r * 7 + i]) * Double(w.data[o * 7 + i]) }
            XCTAssertEqual(Double(y.data[r * 3 + o]), s, accuracy: 1e-5)
        } }
        for (u, v) in zip(x.linear(weight: w, bias: nil).data, (y - b).data) { XCTAssertEqual(u, v, accuracy: 1e-6) }
        gradCheck([x, w, b]) { $0[0].linear(weight: $0[1], bias: $0[2]) }
        gradCheck([x, w]) { $0[0].linear(weight: $0[1], bias: nil) }
    }

    func testTiledTransposeMatchesTheIndexDefinition() {
        for (shape, order) in [([3, 70, 45], [0, 2, 1]), ([2, 3, 33, 5], [3, 1, 0, 2]), ([4, 1, 37, 64], [0, 1, 3, 2]),
                               ([5, 6, 7], [2, 0, 1]), ([1, 2, 3, 4, 5], [2, 0, 3, 1, 4])] {
            let x = randomTensor(shape, seed: 9)
            let y = Tensor.permute(x.data, shape: shape, order: order)
            let inStrides = Tensor.strides(shape), outShape = order.map { shape[$0] }
            var expected = [Float](), index = [Int](repeating: 0, count: shape.count)
            for _ in 0..<x.count {
                expected.append(x.data[zip(order, index).map { inStrides[$0] * $1 }.reduce(0, +)])
                var d = shape.count - 1
                while d >= 0 { index[d] += 1; if index[d] < outShape[d] { break }; index[d] = 0; d -= 1 }
            }
            XCTAssertEqual(y, expected, "\(shape) \(order)")
        }
    }
}
