@testable import Engine
import Foundation
import XCTest

/// Forward passes against slow, obviously right references in double precision.
final class ReferenceTests: XCTestCase {
    /// conv3d by its definition: a direct loop over outputs, channels and taps.
    func naiveConv(_ x: Tensor, _ w: Tensor, _ b: Tensor?, stride: [Int], pad: Padding3D, dil: [Int], groups: Int) -> [Double] {
        let (n, c, T, H, W) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3], x.shape[4])
        let (o, cg, kT, kH, kW) = (w.shape[0], w.shape[1], w.shape[2], w.shape[3], w.shape[4])
        let out = Window3D(kernel: [kT, kH, kW], stride: stride, padding: pad, dilation: dil).outputSize([T, H, W])
        let og = o / groups
        var y = [Double](repeating: 0, count: n * o * out.reduce(1, *))
        var idx = 0
        for i in 0..<n { for oc in 0..<o {
            let g = oc / og
            for ot in 0..<out[0] { for oh in 0..<out[1] { for ow in 0..<out[2] {
                var s = b.map { Double($0.data[oc]) } ?? 0
                for ci in 0..<cg { for a in 0..<kT { for bb in 0..<kH { for e in 0..<kW {
                    let it = ot * stride[0] - pad.before[0] + a * dil[0]
                    let ih = oh * stride[1] - pad.before[1] + bb * dil[1]
                    let iw = ow * stride[2] - pad.before[2] + e * dil[2]
                    guard it >= 0, it < T, ih >= 0, ih < H, iw >= 0, iw < W else { continue }
                    let xv = x.data[(((i * c + g * cg + ci) * T + it) * H + ih) * W + iw]
                    let wv = w.data[(((oc * cg + ci) * kT + a) * kH + bb) * kW + e]
                    s += Double(xv) * Double(wv)
                } } } }
                y[idx] = s; idx += 1
            } } }
        } }
        return y
    }

    func testConv3dMatchesADirectLoop() {
        let cases: [(x: [Int], w: [Int], stride: [Int], pad: Padding3D, dil: [Int], groups: Int)] = [
            ([2, 3, 5, 9, 8], [4, 3, 3, 3, 3], [1, 1, 1], .symmetric([1, 1, 1]), [1, 1, 1], 1),
            ([1, 3, 6, 13, 11], [5, 3, 3, 7, 7], [1, 2, 2], .symmetric([1, 3, 3]), [1, 1, 1], 1),  // R3D stem
            ([1, 4, 5, 8, 7], [6, 2, 3, 3, 3], [2, 2, 1], .symmetric([1, 1, 0]), [1, 2, 1], 2),
            ([1, 6, 4, 7, 7], [6, 1, 3, 3, 3], [1, 2, 2], .symmetric([1, 1, 1]), [1, 1, 1], 6),    // depthwise
            ([1, 3, 7, 9, 9], [4, 3, 7, 7, 7], [2, 2, 2], .same(input: [7, 9, 9], kernel: [7, 7, 7], stride: [2, 2, 2]), [1, 1, 1], 1),
            ([2, 5, 3, 6, 6], [7, 5, 1, 1, 1], [2, 2, 2], .zero, [1, 1, 1], 1),
            ([1, 8, 3, 5, 5], [4, 8, 1, 1, 1], [1, 1, 1], .zero, [1, 1, 1], 1),
            ([1, 2, 8, 6, 6], [3, 2, 3, 3, 3], [1, 1, 1], .symmetric([2, 1, 1]), [2, 1, 1], 1),
            // Wide padding and dilation in W: some taps miss the input for every output column.
            ([1, 2, 3, 4, 3], [3, 2, 1, 2, 3], [1, 1, 2], .symmetric([0, 1, 4]), [1, 1, 3], 1),
        ]
        for backend in ConvolutionBackend.exact { for (i, c) in cases.enumerated() {
            let x = randomTensor(c.x, seed: UInt64(200 + i)), w = randomTensor(c.w, seed: UInt64(220 + i))
            let b = randomTensor([c.w[0]], seed: UInt64(240 + i))
            let y = ConvolutionBackend.with(backend) {
                x.conv3d(weight: w, bias: b, stride: c.stride, padding: c.pad, dilation: c.dil, groups: c.groups)
            }
            let ref = naiveConv(x, w, b, stride: c.stride, pad: c.pad, dil: c.dil, groups: c.groups)
            XCTAssertEqual(y.count, ref.count, "\(backend) case \(i)")
            let err = zip(y.data, ref).map { abs(Double($0) - $1) }.max() ?? 0
            XCTAssertLessThan(err, 1e-4, "\(backend) case \(i): max error \(err)")
        } }
    }

    func testSamePaddingIsTensorFlows() {
        // TF SAME: out = ceil(in / stride); total pad split with the extra after.
        let p = Padding3D.same(input: [16, 224, 224], kernel: [7, 7, 7], stride: [2, 2, 2])
        XCTAssertEqual(p.before, [2, 2, 2]); XCTAssertEqual(p.after, [3, 3, 3])
        let q = Padding3D.same(input: [8, 56, 56], kernel: [1, 3, 3], stride: [1, 2, 2])
        XCTAssertEqual(q.before, [0, 0, 0]); XCTAssertEqual(q.after, [0, 1, 1])
        XCTAssertEqual(Window3D(kernel: [1, 3, 3], stride: [1, 2, 2], padding: q).outputSize([8, 56, 56]), [8, 28, 28])
    }

    func testPoolingMatchesDirectLoops() {
        let x = randomTensor([1, 2, 4, 5, 6], seed: 300)
        let pad = Padding3D(before: [0, 1, 0], after: [1, 1, 1])
        let mp = x.maxPool3d(kernel: [2, 3, 3], stride: [2, 2, 2], padding: pad)
        let ap = x.avgPool3d(kernel: [2, 3, 3], stride: [2, 2, 2], padding: pad, countIncludePad: true)
        let apx = x.avgPool3d(kernel: [2, 3, 3], stride: [2, 2, 2], padding: pad, countIncludePad: false)
        XCTAssertEqual(mp.shape, [1, 2, 2, 3, 3])
        var k = 0
        for p in 0..<2 { for ot in 0..<2 { for oh in 0..<3 { for ow in 0..<3 {
            var best = -Double.infinity, sum = 0.0, n = 0
            for a in 0..<2 { for b in 0..<3 { for e in 0..<3 {
                let (it, ih, iw) = (ot * 2 + a, oh * 2 - 1 + b, ow * 2 + e)
                guard it < 4, ih >= 0, ih < 5, iw < 6 else { continue }
                let v = Double(x.data[((p * 4 + it) * 5 + ih) * 6 + iw])
                best = max(best, v); sum += v; n += 1
            } } }
            XCTAssertEqual(Double(mp.data[k]), best, accuracy: 1e-6)
            XCTAssertEqual(Double(ap.data[k]), sum / 18, accuracy: 1e-6)
            XCTAssertEqual(Double(apx.data[k]), sum / Double(n), accuracy: 1e-6)
            k += 1
        } } } }
    }

    func testAdaptivePoolingBinsArePyTorchs() {
        // 5 -> 3 bins: [0,2), [1,4), [3,5).
        let x = Tensor(shape: [1, 1, 1, 1, 5], data: [1, 2, 3, 4, 5])
        XCTAssertEqual(x.adaptiveAvgPool3d([1, 1, 3]).data, [1.5, 3, 4.5])
        let v = randomTensor([2, 3, 4, 5, 6], seed: 301)
        let spatial = v.adaptiveAvgPool3d([nil, 1, 1])
        XCTAssertEqual(spatial.shape, [2, 3, 4, 1, 1])
        let manual = v.mean(axes: [3, 4])
        for (a, b) in zip(spatial.data, manual.data) { XCTAssertEqual(a, b, accuracy: 1e-6) }
    }

    func testAttentionMatchesTheExplicitFormula() {
        let q = randomTensor([1, 2, 4, 3], seed: 310), k = randomTensor([1, 2, 5, 3], seed: 311), v = randomTensor([1, 2, 5, 2], seed: 312)
        let y = scaledDotProductAttention(query: q, key: k, value: v)
        XCTAssertEqual(y.shape, [1, 2, 4, 2])
        for h in 0..<2 { for i in 0..<4 {
            var scores = [Double](repeating: 0, count: 5)
            for j in 0..<5 {
                var dot = 0.0
                for d in 0..<3 {
                    let qv = Double(q.data[(h * 4 + i) * 3 + d])
                    let kv = Double(k.data[(h * 5 + j) * 3 + d])
                    dot += qv * kv
                }
                scores[j] = dot / 3.0.squareRoot()
            }
            let m = scores.max()!
            scores = scores.map { Foundation.exp($0 - m) }
            let z = scores.reduce(0, +)
            for d in 0..<2 {
                var expected = 0.0
                for j in 0..<5 { expected += scores[j] / z * Double(v.data[(h * 5 + j) * 2 + d]) }
                XCTAssertEqual(Double(y.data[(h * 4 + i) * 2 + d]), expected, accuracy: 1e-5)
            }
        } }
    }

    func testBatchNormRunningStatisticsByHand() {
        // Channel 0 holds 1...8 over N=2 x 4 positions; channel 1 holds 2 x that.
        let values: [Float] = [1, 2, 3, 4, 2, 4, 6, 8, 5, 6, 7, 8, 10, 12, 14, 16]
        let x = Tensor(shape: [2, 2, 4], data: values)
        let bn = BatchNorm(2, momentum: 0.1)
        let y = bn(x)
        // mean 4.5, biased var 5.25, unbiased 6.0 for channel 0; channel 1 doubles.
        XCTAssertEqual(bn.running_mean.data, [0.45, 0.9], accuracy: 1e-6)
        XCTAssertEqual(bn.running_var.data, [0.9 + 0.1 * 6, 0.9 + 0.1 * 24], accuracy: 1e-5)
        XCTAssertEqual(bn.num_batches_tracked.data, [1])
        XCTAssertEqual(y.data[0], (1 - 4.5) / (5.25 + 1e-5).squareRoot(), accuracy: 1e-5)
        bn.eval()
        let e = bn(x)
        XCTAssertEqual(e.data[0], (1 - 0.45) / (1.5 + 1e-5).squareRoot(), accuracy: 1e-5)
        XCTAssertEqual(bn.num_batches_tracked.data, [1], "evaluation does not count batches")
    }

    func testGELUIsExact() {
        let y = Tensor(shape: [3], data: [-1, 0, 1]).gelu()
        XCTAssertEqual(y.data, [-0.15865525, 0, 0.8413447], accuracy: 1e-6)
    }

    func testCrossEntropyByHand() {
        let logits = Tensor(shape: [1, 3], data: [1, 2, 3])
        let lse = Foundation.log(Foundation.exp(1.0) + Foundation.exp(2.0) + Foundation.exp(3.0))
        XCTAssertEqual(Double(logits.crossEntropy(labels: [0]).scalar), lse - 1, accuracy: 1e-5)
        let smoothed = (1 - 0.2 + 0.2 / 3) * (lse - 1) + 0.2 / 3 * (lse - 2) + 0.2 / 3 * (lse - 3)
        XCTAssertEqual(Double(logits.crossEntropy(labels: [0], labelSmoothing: 0.2).scalar), smoothed, accuracy: 1e-5)
    }

    func testBroadcastAndLayoutValues() {
        let a = Tensor(shape: [2, 3], data: [1, 2, 3, 4, 5, 6])
        XCTAssertEqual((a + Tensor(shape: [3], data: [10, 20, 30])).data, [11, 22, 33, 14, 25, 36])
        XCTAssertEqual((a * Tensor(shape: [2, 1], data: [2, 3])).data, [2, 4, 6, 12, 15, 18])
        XCTAssertEqual(a.transposed(0, 1).data, [1, 4, 2, 5, 3, 6])
        XCTAssertEqual(a.sum(axes: [0]).data, [5, 7, 9])
        XCTAssertEqual(a.sliced(axis: 1, 1, 3).data, [2, 3, 5, 6])
        XCTAssertEqual(Tensor.concatenated([a, a], axis: 0).shape, [4, 3])
        XCTAssertEqual(a.matmul(Tensor(shape: [3, 1], data: [1, 1, 1])).data, [6, 15])
    }

    func testInferenceModeRecordsNothing() {
        let w = randomTensor([2, 2], seed: 5)
        w.requiresGrad = true
        let y = Autograd.withoutGradients { (w * 2).relu() }
        XCTAssertFalse(y.requiresGrad)
        XCTAssertTrue(y.parents.isEmpty)
        XCTAssertTrue(Autograd.isRecording)
    }

    func testGradientsAccumulateAcrossBackwardCalls() {
        let w = Tensor(shape: [2], data: [1, 2], requiresGrad: true)
        (w * 3).sum().backward()
        (w * 3).sum().backward()
        XCTAssertEqual(w.grad, [6, 6])
    }

    /// Backward consumes the graph as it goes (PyTorch's retain_graph=False): an intermediate
    /// activation is freed during the pass, not kept with its gradient until the step ends, while
    /// the leaves keep their gradients. With retainGraph the same graph runs backward again.
    func testBackwardReleasesIntermediatesAndKeepsLeafGradients() {
        let x = Tensor(shape: [2, 3], data: [1, -2, 3, -4, 5, -6], requiresGrad: true)
        let w = Tensor(shape: [3, 2], data: [0.5, -1, 2, 0.25, -0.5, 1], requiresGrad: true)
        weak var hidden: Tensor?
        let loss: Tensor
        do {
            let h = x.matmul(w).relu()
            hidden = h
            loss = (h * h).sum()
        }
        XCTAssertNotNil(hidden, "the graph keeps the activation until backward")
        loss.backward()
        XCTAssertNil(hidden, "the activation is freed once its backward has run")
        // x w = [[-5, 1.5], [11, -0.75]], h = [[0, 1.5], [11, 0]]; d(sum h^2)/dw = x^T (2h).
        XCTAssertEqual(w.grad!, [-88, 3, 110, -6, -132, 9])
        XCTAssertNotNil(x.grad)
        XCTAssertNil(loss.grad, "an intermediate's gradient buffer is freed")

        let y = (w * 2).sum()
        w.grad = nil
        y.backward(retainGraph: true)
        y.backward(retainGraph: true)
        XCTAssertEqual(w.grad!, [Float](repeating: 4, count: 6), "the retained graph ran twice")
    }
}

func XCTAssertEqual(_ a: [Float], _ b: [Float], accuracy: Float, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(a.count, b.count, file: file, line: line)
    for (x, y) in zip(a, b) { XCTAssertEqual(x, y, accuracy: accuracy, file: file, line: line) }
}
