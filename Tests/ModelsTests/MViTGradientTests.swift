import Engine
import Models
import TestSupport
import XCTest

/// The whole scaled MViT's gradients against central finite differences of its loss, for a
/// sample of every parameter tensor: the op-level checks do not cover how the blocks compose
/// (pooled attention with its residual, the class token, the position embeddings).
final class MViTGradientTests: XCTestCase {
    func testWholeModelGradientsMatchFiniteDifferences() throws {
        var g = SeededGenerator(seed: 3)
        let m = MViT(classes: 4, width: 8.0 / 96, clip: [4, 32, 32], generator: &g)
        m.eval()   // no dropout or stochastic depth: the loss is a fixed function of the weights
        let x = Tensor(randomNormal: [2, 3, 4, 32, 32], generator: &g)
        let labels = [1, 3]
        let loss = m(x).crossEntropy(labels: labels)
        loss.backward()
        func numericLoss() -> Double { Double(Autograd.withoutGradients { m(x).crossEntropy(labels: labels) }.data[0]) }
        var checked = 0, worst = (name: "", analytic: 0.0, numeric: 0.0, error: 0.0)
        for (name, p) in m.namedParameters() {
            let grad = try XCTUnwrap(p.grad, name)
            // The largest-gradient entries: finite differences in float are meaningful there.
            let order = grad.indices.sorted { abs(grad[$0]) > abs(grad[$1]) }
            for i in order.prefix(2) {
                let eps: Float = 1e-3 * max(1, abs(p.data[i]))   // 1e-2 is past the loss's curvature here
                let numeric = centralDifference(of: p, at: i, eps: eps, numericLoss)
                let a = Double(grad[i])
                // Some tensors' gradients are exactly zero (a bias on the pooled keys shifts every
                // score of a query's row alike, and softmax ignores that): there the central
                // difference is float noise of the loss (about 1e-4 at this eps) and must stay noise.
                if abs(a) < 1e-6 {
                    XCTAssertLessThan(abs(numeric), 5e-4, "\(name)[\(i)]: analytic \(a), numeric \(numeric)")
                    checked += 1
                    continue
                }
                // Below 3e-3 the comparison is absolute (to 3e-4): the loss's float noise over 2 eps
                // is about 1e-4, which put a 7e-4 gradient 12 % off on one CPU and not on another.
                let error = abs(a - numeric) / max(abs(numeric), 3e-3)
                if error > worst.error { worst = (name, a, numeric, error) }
                checked += 1
            }
        }
        XCTAssertGreaterThan(checked, 100)
        XCTAssertLessThan(worst.error, 0.1, "\(worst.name): analytic \(worst.analytic), numeric \(worst.numeric)")
        print("MViT gradient check: \(checked) entries, worst relative error \(worst.error) at \(worst.name) (analytic \(worst.analytic), numeric \(worst.numeric))")
    }
}
