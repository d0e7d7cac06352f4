@testable import Engine
import TestSupport
import XCTest

/// Checks an op's analytic gradients against central finite differences.
///
/// The loss is sum(f(inputs) * R) for a fixed random R; the numeric derivative perturbs one input
/// value by +-eps, and sums the loss in double precision. Up to `samples` values of each input are
/// checked (all of them when smaller).
func gradCheck(_ inputs: [Tensor], eps: Float = 1e-2, atol: Double = 2e-3, rtol: Double = 2e-2,
               samples: Int = 60, file: StaticString = #filePath, line: UInt = #line,
               _ f: ([Tensor]) -> Tensor) {
    var g = SeededGenerator(seed: 99)
    for t in inputs { t.requiresGrad = true; t.grad = nil }
    let out = f(inputs)
    let r = (0..<out.count).map { _ in Float(g.uniform(-1, 1)) }
    let loss = (out * Tensor(shape: out.shape, data: r)).sum()
    loss.backward()

    func numericLoss() -> Double {
        let y = Autograd.withoutGradients { f(inputs) }
        var s = 0.0
        for i in 0..<y.count { s += Double(y.data[i]) * Double(r[i]) }
        return s
    }
    for (n, t) in inputs.enumerated() {
        let analytic = t.grad ?? [Float](repeating: 0, count: t.count)
        let indices = t.count <= samples ? Array(0..<t.count) : (0..<samples).map { _ in g.int(below: t.count) }
        for i in indices {
            let numeric = centralDifference(of: t, at: i, eps: eps, numericLoss)
            let a = Double(analytic[i])
            if abs(a - numeric) > atol + rtol * abs(numeric) {
                XCTFail("input \(n) \(t.shape) index \(i): analytic \(a), numeric \(numeric)", file: file, line: line)
                return
            }
        }
    }
}

/// Random values in [-1, 1) from a seed, optionally kept away from zero (for kinks like ReLU).
func randomTensor(_ shape: [Int], seed: UInt64, awayFromZero: Float = 0) -> Tensor {
    var g = SeededGenerator(seed: seed)
    let n = shape.reduce(1, *)
    return Tensor(shape: shape, data: (0..<n).map { _ in
        var v = Float(g.uniform(-1, 1))
        if abs(v) < awayFromZero { v += v < 0 ? -awayFromZero : awayFromZero }
        return v
    })
}

/// Distinct values spaced at least `gap` apart, shuffled (for max pooling's kinks).
func distinctTensor(_ shape: [Int], seed: UInt64, gap: Float = 0.05) -> Tensor {
    var g = SeededGenerator(seed: seed)
    let n = shape.reduce(1, *)
    var values = (0..<n).map { Float($0) * gap - Float(n) * gap / 2 }
    for i in stride(from: n - 1, to: 0, by: -1) { values.swapAt(i, g.int(below: i + 1)) }
    return Tensor(shape: shape, data: values)
}
