@testable import Engine
import XCTest

/// Ops that run two layers in one pass against the two layers run apart.
final class FusedOpsTests: XCTestCase {
    func testBatchNormWithReLUEqualsBatchNormThenReLU() {
        for training in [true, false] {
            let x = randomTensor([3, 4, 2, 3, 5], seed: 41)
            let weight = randomTensor([4], seed: 42), bias = randomTensor([4], seed: 43)
            let r = randomTensor([3, 4, 2, 3, 5], seed: 44)
            func run(fused: Bool) -> [[Float]] {
                let xi = Tensor(shape: x.shape, data: x.data, requiresGrad: true)
                let w = Tensor(shape: [4], data: weight.data, requiresGrad: true), b = Tensor(shape: [4], data: bias.data, requiresGrad: true)
                let mean = Tensor(shape: [4], data: [0.1, -0.2, 0.3, 0]), variance = Tensor(shape: [4], data: [1, 0.5, 2, 1.5])
                let y = fused
                    ? xi.batchNorm(weight: w, bias: b, runningMean: mean, runningVar: variance, training: training, relu: true)
                    : xi.batchNorm(weight: w, bias: b, runningMean: mean, runningVar: variance, training: training).relu()
                (y * r).sum().backward()
                return [y.data, xi.grad!, w.grad!, b.grad!, mean.data, variance.data]
            }
            let (fused, apart) = (run(fused: true), run(fused: false))
            XCTAssertTrue(fused[0].contains(0) && fused[0].contains { $0 > 0 }, "the ReLU cuts some outputs")
            for (a, b) in zip(fused, apart) { XCTAssertEqual(a, b, "training \(training)") }
        }
    }

    func testAddingReLUEqualsSumThenReLU() {
        let a = randomTensor([2, 3, 4, 5], seed: 51)
        var bData = randomTensor([2, 3, 4, 5], seed: 52).data
        for k in stride(from: 0, to: bData.count, by: 7) { bData[k] = -a.data[k] }   // sums of exactly 0
        let upstream = randomTensor([2, 3, 4, 5], seed: 53)
        func run(fused: Bool) -> [[Float]] {
            let x = Tensor(shape: a.shape, data: a.data, requiresGrad: true), r = Tensor(shape: a.shape, data: bData, requiresGrad: true)
            let y = fused ? x.addingReLU(r) : (x + r).relu()
            (y * upstream).sum().backward()
            return [y.data, x.grad!, r.grad!]
        }
        let (fused, apart) = (run(fused: true), run(fused: false))
        XCTAssertTrue(fused[0].contains(0) && fused[0].contains { $0 > 0 }, "the ReLU cuts some outputs")
        XCTAssertEqual(fused[1][0], 0, "no gradient where the sum is exactly 0")
        XCTAssertEqual(fused[1][1], a.data[1] + bData[1] > 0 ? upstream.data[1] : 0)
        for (x, y) in zip(fused, apart) { XCTAssertEqual(x.map(\.bitPattern), y.map(\.bitPattern)) }
    }

    func testAttentionHeadsEqualPermuteThenSlice() {
        let (n, l, heads, d) = (2, 7, 3, 5)
        let packed = randomTensor([n, l, 3 * heads * d], seed: 61)
        let upstream = (0..<3).map { randomTensor([n, heads, l, d], seed: 62 + UInt64($0)) }
        func run(fused: Bool) -> [[Float]] {
            let x = Tensor(shape: packed.shape, data: packed.data, requiresGrad: true)
            let all = x.reshaped([n, l, 3, heads, d]).permuted([2, 0, 3, 1, 4])
            let parts = (0..<3).map { i in
                fused ? x.attentionHeads(part: i, of: 3, heads: heads) : all.sliced(axis: 0, i, i + 1).reshaped([n, heads, l, d])
            }
            zip(parts, upstream).map { ($0 * $1).sum() }.reduce(Tensor(zeros: []), +).backward()
            return parts.map(\.data) + [x.grad!]
        }
        let (fused, apart) = (run(fused: true), run(fused: false))
        XCTAssertEqual(fused[1][0], packed.data[heads * d], "k's first value is channel heads x d of token 0")
        for (a, b) in zip(fused, apart) { XCTAssertEqual(a.map(\.bitPattern), b.map(\.bitPattern)) }
    }

    func testScaledChannelsEqualsBroadcastProduct() {
        let x0 = randomTensor([3, 7, 5], seed: 71), s0 = randomTensor([5], seed: 72), upstream = randomTensor([3, 7, 5], seed: 73)
        func run(fused: Bool) -> [[Float]] {
            let x = Tensor(shape: x0.shape, data: x0.data, requiresGrad: true), s = Tensor(shape: [5], data: s0.data, requiresGrad: true)
            let y = fused ? x.scaledChannels(by: s) : x * s
            (y * upstream).sum().backward()
            return [y.data, x.grad!, s.grad!]
        }
        let (fused, apart) = (run(fused: true), run(fused: false))
        XCTAssertEqual(fused[0][6], x0.data[6] * s0.data[1])
        for (a, b) in zip(fused, apart) { XCTAssertEqual(a.map(\.bitPattern), b.map(\.bitPattern)) }
    }

    func testSequentialFusesBatchNormAndReLU() {
        var g = SeededGenerator(seed: 5)
        let conv = Conv3d(2, 3, kernel: [3, 3, 3], padding: [1, 1, 1], generator: &g)
        let bn = BatchNorm(3), relu = ReLU()
        let block = Sequential([conv, bn, relu])
        let x = randomTensor([2, 2, 3, 4, 4], seed: 6)
        let fused = block(x).data
        let apart = relu(bn(conv(x))).data
        XCTAssertEqual(fused, apart)
        XCTAssertEqual(bn.num_batches_tracked.data[0], 2, "each pass counts one batch")
    }
}
