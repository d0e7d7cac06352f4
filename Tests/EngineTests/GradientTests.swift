@testable import Engine
import XCTest

/// Every op's backward against finite differences, on odd sizes, strides, dilations, groups and
/// padding at the borders.
final class GradientTests: XCTestCase {
    func testElementwiseWithBroadcasting() {
        let a = randomTensor([2, 3, 4], seed: 1), b = randomTensor([3, 1], seed: 2)
        gradCheck([a, b]) { $0[0] + $0[1] }
        gradCheck([a, b]) { $0[0] - $0[1] }
        gradCheck([a, b]) { $0[0] * $0[1] }
        let pos = randomTensor([1, 4], seed: 3).map({ abs($0) + 0.5 }, derivative: { _, _ in 1 }).detached()
        gradCheck([a, pos]) { $0[0] / $0[1] }
        gradCheck([a]) { $0[0] * 3 + 1 }
    }

    func testPointwiseNonlinearities() {
        let x = randomTensor([3, 5], seed: 4, awayFromZero: 0.05)
        gradCheck([x]) { $0[0].relu() }
        gradCheck([x]) { $0[0].gelu() }
        gradCheck([x]) { $0[0].exp() }
        gradCheck([x]) { $0[0].sigmoid() }
        gradCheck([x]) { $0[0].tanh() }
        gradCheck([x]) { $0[0].squared() }
        let p = randomTensor([7], seed: 5).map({ abs($0) + 0.5 }, derivative: { _, _ in 1 }).detached()
        gradCheck([p]) { $0[0].log() }
        gradCheck([p]) { $0[0].sqrt() }
    }

    func testReductionsAndLayout() {
        let x = randomTensor([2, 3, 4, 5], seed: 6)
        gradCheck([x]) { $0[0].sum(axes: [1, 3]) }
        gradCheck([x]) { $0[0].mean(axes: [0], keepDims: true) }
        gradCheck([x]) { $0[0].mean() }
        gradCheck([x]) { $0[0].reshaped([6, -1]) }
        gradCheck([x]) { $0[0].permuted([2, 0, 3, 1]) }
        gradCheck([x]) { $0[0].sliced(axis: 2, 1, 3) }
        let y = randomTensor([2, 3, 2, 5], seed: 7)
        gradCheck([x, y]) { Tensor.concatenated([$0[0], $0[1]], axis: 2) }
        // Overlapping slices of one tensor: the second gradient adds to the first.
        gradCheck([x]) { Tensor.concatenated([$0[0].sliced(axis: 2, 0, 3), $0[0].sliced(axis: 2, 1, 4)], axis: 1) }
        let packed = randomTensor([2, 5, 3 * 2 * 4], seed: 17)
        gradCheck([packed]) { t in
            let parts: [Tensor] = (0..<3).map { i in t[0].attentionHeads(part: i, of: 3, heads: 2) * Float(i + 1) }
            return Tensor.concatenated(parts, axis: 3)
        }
    }

    func testMatmul() {
        let a = randomTensor([2, 3, 4], seed: 8), b = randomTensor([2, 4, 5], seed: 9), w = randomTensor([4, 6], seed: 10)
        gradCheck([a, b]) { $0[0].matmul($0[1]) }
        gradCheck([a, w]) { $0[0].matmul($0[1]) }
        let weight = randomTensor([3, 4], seed: 11), bias = randomTensor([3], seed: 12)
        gradCheck([a, weight, bias]) { $0[0].linear(weight: $0[1], bias: $0[2]) }
    }

    func testConv3dGradients() {
        let cases: [(x: [Int], w: [Int], stride: [Int], pad: Padding3D, dil: [Int], groups: Int)] = [
            ([1, 2, 3, 5, 4], [3, 2, 3, 3, 3], [1, 1, 1], .symmetric([1, 1, 1]), [1, 1, 1], 1),
            ([2, 3, 4, 7, 6], [4, 3, 1, 3, 2], [1, 2, 2], .symmetric([0, 1, 0]), [1, 1, 1], 1),
            ([1, 4, 5, 6, 5], [4, 2, 2, 3, 3], [2, 1, 2], .symmetric([1, 2, 1]), [1, 2, 1], 2),
            ([1, 3, 4, 5, 5], [3, 1, 3, 3, 3], [1, 2, 2], .symmetric([1, 1, 1]), [1, 1, 1], 3),  // depthwise
            ([1, 2, 5, 7, 7], [2, 2, 3, 3, 3], [2, 2, 2], .same(input: [5, 7, 7], kernel: [3, 3, 3], stride: [2, 2, 2]), [1, 1, 1], 1),
            ([1, 3, 2, 4, 4], [5, 3, 1, 1, 1], [1, 2, 2], .zero, [1, 1, 1], 1),  // strided shortcut
            ([2, 3, 2, 3, 3], [4, 3, 1, 1, 1], [1, 1, 1], .zero, [1, 1, 1], 1),  // pointwise
            ([1, 2, 3, 4, 4], [2, 2, 3, 3, 3], [1, 1, 1], .symmetric([2, 1, 1]), [2, 1, 1], 1),  // temporal dilation (TCLR)
            ([1, 2, 2, 3, 3], [2, 2, 1, 2, 3], [1, 1, 2], .symmetric([0, 1, 4]), [1, 1, 3], 1),  // taps past the input in W
        ]
        for backend in ConvolutionBackend.exact { for (i, c) in cases.enumerated() {
            let x = randomTensor(c.x, seed: UInt64(20 + i)), w = randomTensor(c.w, seed: UInt64(40 + i))
            let b = randomTensor([c.w[0]], seed: UInt64(60 + i))
            ConvolutionBackend.with(backend) {
                gradCheck([x, w, b], samples: 40) {
                    $0[0].conv3d(weight: $0[1], bias: $0[2], stride: c.stride, padding: c.pad, dilation: c.dil, groups: c.groups)
                }
            }
        } }
    }

    func testConvGradientsWithSmallWorkspaceChunks() {
        let saved = convolutionWorkspaceBytes
        convolutionWorkspaceBytes = 256  // forces one output row per chunk
        defer { convolutionWorkspaceBytes = saved }
        let x = randomTensor([1, 2, 3, 5, 6], seed: 80), w = randomTensor([3, 2, 3, 3, 3], seed: 81)
        ConvolutionBackend.with(.gemm) {  // the workspace is the engine's own lowering's
            gradCheck([x, w]) { $0[0].conv3d(weight: $0[1], padding: .symmetric([1, 1, 1])) }
        }
    }

    func testPoolingGradients() {
        let x = distinctTensor([2, 2, 5, 6, 7], seed: 90)
        gradCheck([x]) { $0[0].maxPool3d(kernel: [2, 3, 3], stride: [1, 2, 2], padding: .symmetric([0, 1, 1])) }
        gradCheck([x]) { $0[0].maxPool3d(kernel: [3, 3, 3], stride: [2, 2, 2], padding: .same(input: [5, 6, 7], kernel: [3, 3, 3], stride: [2, 2, 2])) }
        let y = randomTensor([1, 2, 5, 6, 7], seed: 91)
        gradCheck([y]) { $0[0].avgPool3d(kernel: [2, 3, 3], stride: [1, 2, 2], padding: .symmetric([1, 1, 1])) }
        gradCheck([y]) { $0[0].avgPool3d(kernel: [2, 2, 2], stride: [1, 1, 1], padding: .same(input: [5, 6, 7], kernel: [2, 2, 2], stride: [1, 1, 1]), countIncludePad: false) }
        gradCheck([y]) { $0[0].adaptiveAvgPool3d([1, 1, 1]) }
        gradCheck([y]) { $0[0].adaptiveAvgPool3d([nil, 1, 1]) }
        gradCheck([y]) { $0[0].adaptiveAvgPool3d([2, 4, 3]) }
    }

    func testNormalisationGradients() {
        let x = randomTensor([3, 4, 2, 3, 2], seed: 100)
        let w = randomTensor([4], seed: 101), b = randomTensor([4], seed: 102)
        gradCheck([x, w, b]) {
            $0[0].batchNorm(weight: $0[1], bias: $0[2], runningMean: Tensor(zeros: [4]), runningVar: Tensor(filling: 1, shape: [4]), training: true)
        }
        let rm = randomTensor([4], seed: 103), rv = randomTensor([4], seed: 104).map({ abs($0) + 0.5 }, derivative: { _, _ in 1 }).detached()
        gradCheck([x, w, b]) {
            $0[0].batchNorm(weight: $0[1], bias: $0[2], runningMean: rm, runningVar: rv, training: false)
        }
        let t = randomTensor([2, 5, 6], seed: 105), lw = randomTensor([6], seed: 106), lb = randomTensor([6], seed: 107)
        gradCheck([t, lw, lb]) { $0[0].layerNorm(weight: $0[1], bias: $0[2]) }
    }

    func testSoftmaxLossesAndSimilarity() {
        let x = randomTensor([4, 7], seed: 110)
        gradCheck([x]) { $0[0].softmax() }
        gradCheck([x]) { $0[0].logSoftmax() }
        gradCheck([x]) { $0[0].crossEntropy(labels: [0, 6, 3, 3]) }
        gradCheck([x]) { $0[0].crossEntropy(labels: [1, 2, 3, 4], labelSmoothing: 0.1) }
        let soft = randomTensor([4, 7], seed: 111).softmax().detached()
        gradCheck([x]) { $0[0].crossEntropy(softTargets: soft) }
        gradCheck([x]) { $0[0].l2Normalized() }
        let y = randomTensor([5, 7], seed: 112)
        gradCheck([x, y]) { $0[0].cosineSimilarity($0[1]) }
    }

    func testDropoutAndDropPathGradients() {
        let x = randomTensor([4, 6], seed: 120)
        gradCheck([x]) { var g = SeededGenerator(seed: 5); return $0[0].dropout(0.3, training: true, generator: &g) }
        gradCheck([x]) { var g = SeededGenerator(seed: 6); return $0[0].dropPath(0.5, training: true, generator: &g) }
    }

    func testAttentionGradients() {
        let q = randomTensor([2, 2, 5, 4], seed: 130), k = randomTensor([2, 2, 3, 4], seed: 131), v = randomTensor([2, 2, 3, 6], seed: 132)
        gradCheck([q, k, v]) { scaledDotProductAttention(query: $0[0], key: $0[1], value: $0[2]) }
    }
}
