import Engine
import Foundation
import TestSupport
import XCTest
@testable import Training

/// TCLR's losses against direct loops in double precision (the formulas of its
/// `train_gen_all_step.py`, `nt_xent_original.py` and `global_local_temporal_contrastive.py`),
/// and their gradients against central finite differences.
final class LossTests: XCTestCase {
    func random(_ shape: [Int], _ seed: UInt64, normalise: Bool = true) -> Tensor {
        var g = SeededGenerator(seed: seed)
        var d = (0..<shape.reduce(1, *)).map { _ in Float(g.normal()) }
        if normalise {
            let dim = shape.last!
            for r in 0..<(d.count / dim) {
                let n = (0..<dim).map { d[r * dim + $0] * d[r * dim + $0] }.reduce(0, +).squareRoot()
                for k in 0..<dim { d[r * dim + k] /= n }
            }
        }
        return Tensor(shape: shape, data: d, requiresGrad: true)
    }

    func rows(_ t: Tensor) -> [[Double]] {
        let d = t.shape[t.rank - 1]
        return (0..<(t.count / d)).map { r in (0..<d).map { Double(t.data[r * d + $0]) } }
    }

    func dot(_ a: [Double], _ b: [Double]) -> Double { zip(a, b).map(*).reduce(0, +) }

    /// -log softmax(logits)[target] in double.
    func ce(_ logits: [Double], _ target: Int) -> Double {
        let m = logits.max()!
        return -(logits[target] - m - Foundation.log(logits.map { Foundation.exp($0 - m) }.reduce(0, +)))
    }

    /// NT-Xent as the reference: R = [zj; zi], positives at +-N, self excluded, sum / 2N.
    func ntXentReference(_ zi: [[Double]], _ zj: [[Double]], _ t: Double) -> Double {
        let r = zj + zi, n = zi.count
        var total = 0.0
        for a in 0..<(2 * n) {
            let p = a < n ? a + n : a - n
            var logits: [Double] = [dot(r[a], r[p]) / t]
            for b in 0..<(2 * n) where b != a && b != p { logits.append(dot(r[a], r[b]) / t) }
            total += ce(logits, 0)
        }
        return total / Double(2 * n)
    }

    func testNTXentAgainstDirectLoop() {
        let zi = random([5, 7], 1), zj = random([5, 7], 2)
        let ours = Double(TCLRLoss.ntXent(zi, zj, temperature: 0.1).scalar)
        let ref = ntXentReference(rows(zi), rows(zj), 0.1)
        XCTAssertEqual(ours, ref, accuracy: 1e-4 * abs(ref))
        // Symmetric, as the reference relies on for its ordered pairs.
        XCTAssertEqual(Double(TCLRLoss.ntXent(zj, zi, temperature: 0.1).scalar), ref, accuracy: 1e-4 * abs(ref))
    }

    func testFourTermsAgainstDirectLoops() {
        let (b, k, d) = (3, 4, 6), t = 0.1
        let g = [random([b, d], 10), random([b, d], 11)]
        let steps = (0..<2).map { a in (0..<k).map { random([b, d], 20 + UInt64(a * k + $0)) } }
        let locals = (0..<2).map { a in (0..<k).map { random([b, d], 40 + UInt64(a * k + $0)) } }
        // 1.
        let l1 = ntXentReference(rows(g[0]), rows(g[1]), t)
        XCTAssertEqual(Double(TCLRLoss.globalInstance(g[0], g[1], temperature: 0.1).scalar), l1, accuracy: 1e-4 * l1)
        // 2. every ordered pair (ii, c) != (jj, c1), divided by 4.
        var l2 = 0.0
        for ii in 0..<2 { for jj in 0..<2 { for c in 0..<k { for c1 in 0..<k where !(ii == jj && c == c1) {
            l2 += ntXentReference(rows(locals[ii][c]), rows(locals[jj][c1]), t)
        } } } }
        l2 /= 4
        XCTAssertEqual(Double(TCLRLoss.localInstance(locals, temperature: 0.1).scalar), l2, accuracy: 1e-4 * l2)
        // 3. per video, NT-Xent with N = K between its local clips under the two augmentations, summed.
        var l3 = 0.0
        for v in 0..<b {
            l3 += ntXentReference((0..<k).map { rows(locals[0][$0])[v] }, (0..<k).map { rows(locals[1][$0])[v] }, t)
        }
        XCTAssertEqual(Double(TCLRLoss.localTemporal(locals, temperature: 0.1).scalar), l3, accuracy: 1e-4 * l3)
        // 4. for each (a, c): rows and columns of the K x K similarity, diagonal targets, / 2B.
        var l4 = 0.0
        for a in 0..<2 { for c in 0..<2 {
            var s = 0.0
            for v in 0..<b {
                let m = (0..<k).map { i in (0..<k).map { j in dot(rows(steps[a][i])[v], rows(locals[c][j])[v]) / t } }
                for i in 0..<k { s += ce(m[i], i) + ce((0..<k).map { m[$0][i] }, i) }
            }
            l4 += s / Double(2 * b)
        } }
        XCTAssertEqual(Double(TCLRLoss.globalLocal(steps, locals, temperature: 0.1).scalar), l4, accuracy: 1e-4 * l4)
        let total = Double(TCLRLoss.total(globalPooled: g, globalSteps: steps, locals: locals, temperature: 0.1).scalar)
        XCTAssertEqual(total, l1 + l2 + l3 + l4, accuracy: 1e-4 * (l1 + l2 + l3 + l4))
    }

    /// Central differences on every input value of the whole TCLR loss.
    func testTCLRGradientsByFiniteDifferences() {
        let (b, k, d) = (2, 2, 3)
        let inputs = (0..<(2 + 4 * k)).map { random([b, d], 100 + UInt64($0), normalise: false) }
        func loss() -> Tensor {
            TCLRLoss.total(globalPooled: [inputs[0], inputs[1]],
                           globalSteps: [[inputs[2], inputs[3]], [inputs[4], inputs[5]]],
                           locals: [[inputs[6], inputs[7]], [inputs[8], inputs[9]]], temperature: 0.5)
        }
        let l = loss()
        l.backward()
        for (n, x) in inputs.enumerated() {
            let analytic = x.grad!
            for i in 0..<x.count {
                let numeric = centralDifference(of: x, at: i, eps: 1e-2) { Double(Autograd.withoutGradients { loss() }.scalar) }
                XCTAssertEqual(Double(analytic[i]), numeric, accuracy: 2e-2 * max(1, abs(numeric)), "input \(n) value \(i)")
            }
        }
    }

    func testCrossEntropyWithLabelSmoothingByHand() {
        let logits = Tensor(shape: [1, 3], data: [1, 2, 3], requiresGrad: true)
        let lse = Foundation.log(exp(1.0) + exp(2.0) + exp(3.0))
        let logp = [1.0, 2, 3].map { $0 - lse }
        // target: 0.9 one-hot at class 0 + 0.1 / 3 everywhere
        let expected = -(0.9 + 0.1 / 3) * logp[0] - (0.1 / 3) * (logp[1] + logp[2])
        let t = Tensor(shape: [1, 3], data: Mixing.smoothedOneHot([0], classes: 3, smoothing: 0.1))
        XCTAssertEqual(Double(logits.crossEntropy(softTargets: t).scalar), expected, accuracy: 1e-5)
        XCTAssertEqual(Double(logits.crossEntropy(labels: [0], labelSmoothing: 0.1).scalar), expected, accuracy: 1e-5)
    }

    func testMixupAndCutmix() {
        var g = SeededGenerator(seed: 3)
        let shape = [4, 1, 1, 8, 8]
        var mixes = 0, cuts = 0
        for trial in 0..<40 {
            var x = (0..<(4 * 64)).map { Float($0 / 64) }      // clip i is filled with i
            let (targets, lambda) = Mixing.apply(MixConfig(labelSmoothing: 0), batch: &x, shape: shape, labels: [0, 1, 2, 3],
                                                 classes: 4, generator: &g)
            XCTAssert((0...1).contains(lambda), "trial \(trial)")
            for i in 0..<4 {
                let row = Array(targets[(i * 4)..<(i * 4 + 4)])
                XCTAssertEqual(Double(row.reduce(0, +)), 1, accuracy: 1e-5)
                XCTAssertEqual(Double(row[i]), lambda, accuracy: 1e-5, "clip \(i) keeps weight lambda")
                XCTAssertEqual(Double(row[3 - i]), 1 - lambda, accuracy: 1e-5, "and is mixed with clip \(3 - i)")
                // The pixels carry the same share: their mean is lambda i + (1 - lambda)(3 - i).
                let mean = Double(x[(i * 64)..<(i * 64 + 64)].reduce(0, +)) / 64
                XCTAssertEqual(mean, lambda * Double(i) + (1 - lambda) * Double(3 - i), accuracy: 1e-4, "trial \(trial) clip \(i)")
            }
            let firstClip = Set(x[0..<64])
            if firstClip.isSubset(of: [0, 3]) { cuts += 1 } else { mixes += 1 }  // a cut pastes, a mix blends
        }
        XCTAssertGreaterThan(mixes, 5); XCTAssertGreaterThan(cuts, 5)
    }

    func testBetaSamplesHaveTheRightMean() {
        var g = SeededGenerator(seed: 9)
        let n = 20_000
        let m = (0..<n).map { _ in g.beta(0.8, 0.8) }.reduce(0, +) / Double(n)
        XCTAssertEqual(m, 0.5, accuracy: 0.01)
        let m2 = (0..<n).map { _ in g.beta(2, 6) }.reduce(0, +) / Double(n)
        XCTAssertEqual(m2, 0.25, accuracy: 0.01)
    }
}

final class ValidationRankTests: XCTestCase {
    /// The same tie rule as Evaluation's `Aggregate.topK` (its test: [0.2, 0.5, 0.5, 0.1, 0.5] ranks
    /// 1, 2, 4, 0, 3): a tie goes to the lower class index, so a constant output is right only for class 0.
    func testTiesGoToTheLowerClassIndexAsInEvaluation() {
        let scores = [0.2, 0.5, 0.5, 0.1, 0.5]
        XCTAssertEqual((0..<5).map { classRank(of: $0, in: scores) }, [3, 0, 1, 4, 2])
        let constant = [Double](repeating: 0.25, count: 4)
        XCTAssertEqual((0..<4).map { classRank(of: $0, in: constant) }, [0, 1, 2, 3])
    }
}
