import Engine
import Models
import TestSupport
import XCTest

/// The whole scaled MViT's gradients against central finite differences of its loss, for a
/// sample of every parameter tensor: the op-level checks do not cover how the blocks compose
/// (pooled attention with its residual, the class token, the position embeddings).
final class MViTGradientTests: XCTestCase {
    func testWholeModelGradientsMatchFiniteDifferences() throws {
        try checkGradients(layerScale: nil)
    }

    /// With LayerScale: its factors get gradients, and the branches they scale still do. 0.5, not
    /// CaiT's 1e-4, so that the branches' own gradients are large enough to difference in float.
    func testLayerScaleGradientsMatchFiniteDifferences() throws {
        try checkGradients(layerScale: 0.5)
    }

    func testLayerScaleAddsOnlyItsFactors() {
        var g = SeededGenerator(seed: 3), h = SeededGenerator(seed: 3)
        let plain = MViT(classes: 4, width: 8.0 / 96, clip: [4, 32, 32], generator: &g)
        let scaled = MViT(classes: 4, width: 8.0 / 96, clip: [4, 32, 32], layerScale: 1e-4, generator: &h)
        let names = Set(scaled.namedParameters().map(\.0)).subtracting(plain.namedParameters().map(\.0))
        XCTAssertEqual(names.count, 2 * 16)
        XCTAssertTrue(names.contains("blocks.0.ls1.gamma") && names.contains("blocks.15.ls2.gamma"), "\(names.sorted().prefix(4))")
        // blocks.0 goes from d0 to 2 d0: ls1 scales the attention (d0), ls2 the MLP (2 d0).
        let p = Dictionary(uniqueKeysWithValues: scaled.namedParameters())
        XCTAssertEqual(p["blocks.0.ls1.gamma"]?.shape, [8]); XCTAssertEqual(p["blocks.0.ls2.gamma"]?.shape, [16])
        XCTAssertEqual(p["blocks.0.ls1.gamma"]?.data.first, 1e-4)
        // The same draws for everything else: the plain model's weights are the scaled one's.
        for (name, t) in plain.namedParameters() { XCTAssertEqual(p[name]?.data, t.data, name) }
        // Counted: 32 factor vectors, no multiply-accumulates.
        let (a, b) = (ModelZoo.cost(plain, input: [3, 4, 32, 32]), ModelZoo.cost(scaled, input: [3, 4, 32, 32]))
        XCTAssertEqual(b.parameters - a.parameters, p.filter { $0.key.hasSuffix(".gamma") }.values.map(\.count).reduce(0, +))
        XCTAssertEqual(b.macs, a.macs)
    }

    func checkGradients(layerScale: Float?) throws {
        var g = SeededGenerator(seed: 3)
        let m = MViT(classes: 4, width: 8.0 / 96, clip: [4, 32, 32], layerScale: layerScale, generator: &g)
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
        XCTAssertGreaterThan(checked, layerScale == nil ? 100 : 160)
        XCTAssertLessThan(worst.error, 0.1, "\(worst.name): analytic \(worst.analytic), numeric \(worst.numeric)")
        print("MViT gradient check (layer scale \(layerScale.map { "\($0)" } ?? "none")): \(checked) entries, worst relative error \(worst.error) at \(worst.name) (analytic \(worst.analytic), numeric \(worst.numeric))")
    }
}
