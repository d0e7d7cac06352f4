@testable import Engine
import CVectorMath
import XCTest

/// Batch norm's loops run in C (CVectorMath), compiled for AVX-512, AVX2 and baseline x86-64. At
/// every width this CPU runs, a training batch norm (with and without its fused ReLU) must give, bit
/// for bit, the outputs, running statistics and gradients of the Swift arithmetic it replaced
/// (below): sums in Double over four lanes in a fixed order, planes added in order. Its accuracy
/// against finite differences is tested in GradientTests.
final class BatchNormKernelTests: XCTestCase {
    func testTrainingBatchNormIsTheSwiftArithmeticBitForBitAtEveryWidth() {
        let widths: [Int32] = [128, 256, 512].filter { $0 <= vip_vecmath_widest() }
        let original = vip_vecmath_width()
        defer { _ = vip_vecmath_use_width(original) }
        // Plane sizes around the four lanes and the vector widths; 5 and 9 planes per channel (the
        // C code takes planes four at a time, then one at a time).
        for (n, inner) in [(5, 1), (9, 3), (5, 4), (5, 7), (9, 33), (5, 2 * 8 * 8), (4, 4 * 4)] {
            for relu in [false, true] {
                let c = 3
                let shape = [n, c, inner]
                var g = SeededGenerator(seed: UInt64(n * 1000 + inner * 2 + (relu ? 1 : 0)))
                // Magnitudes 2^0 to 2^40 apart: the Double sums round, so their order matters.
                let x = (0..<(n * c * inner)).map { _ in Float(g.normal() * 2 + 0.5) * Float(1 << Int.random(in: 0...40, using: &g)) }
                let upstream = (0..<x.count).map { _ in Float(g.normal()) }
                let gamma: [Float] = [1.5, -0.7, 0.3], beta: [Float] = [0.1, 0.2, -0.4]
                let expected = referenceBatchNorm(x, shape: shape, gamma: gamma, beta: beta, upstream: upstream, relu: relu)
                for w in widths {
                    XCTAssertGreaterThan(vip_vecmath_use_width(w), 0)
                    let xi = Tensor(shape: shape, data: x, requiresGrad: true)
                    let wt = Tensor(shape: [c], data: gamma, requiresGrad: true), bt = Tensor(shape: [c], data: beta, requiresGrad: true)
                    let mean = Tensor(shape: [c], data: [0.1, -0.2, 0.3]), variance = Tensor(shape: [c], data: [1, 0.5, 2])
                    let y = xi.batchNorm(weight: wt, bias: bt, runningMean: mean, runningVar: variance, training: true, relu: relu)
                    (y * Tensor(shape: shape, data: upstream)).sum().backward()
                    let got = [y.data, mean.data, variance.data, xi.grad!, wt.grad!, bt.grad!]
                    for (name, (a, b)) in zip(["output", "running mean", "running variance", "input gradient", "weight gradient", "bias gradient"],
                                              zip(got, expected)) {
                        XCTAssertEqual(a.map(\.bitPattern), b.map(\.bitPattern), "\(name), \(n)x\(c)x\(inner), relu \(relu), width \(w)")
                    }
                    if relu { XCTAssertTrue(y.data.contains(0) && y.data.contains { $0 > 0 }, "the ReLU cuts some outputs") }
                }
            }
        }
    }

    /// The Double sums themselves (the op rounds them to Float, which hides most orders): per
    /// channel, the planes' four-lane sums in plane order.
    func testChannelSumsAreTheSwiftLaneSumsBitForBitAtEveryWidth() {
        let widths: [Int32] = [128, 256, 512].filter { $0 <= vip_vecmath_widest() }
        let original = vip_vecmath_width()
        defer { _ = vip_vecmath_use_width(original) }
        var g = SeededGenerator(seed: 7)
        for (n, inner) in [(5, 1), (9, 3), (5, 4), (7, 7), (9, 33), (6, 128)] {
            let c = 2, count = n * c * inner
            // Magnitudes 2^0 to 2^40 apart, so that Double sums round and their order shows.
            let x = (0..<count).map { _ in Float(g.normal()) * Float(1 << Int.random(in: 0...40, using: &g)) }
            let up = (0..<count).map { _ in Float(g.normal()) * Float(1 << Int.random(in: 0...40, using: &g)) }
            let y = (0..<count).map { _ in Float(g.normal()) }
            let (mu, s): (Float, Float) = (3, 0.25)
            x.withUnsafeBufferPointer { xp in
                up.withUnsafeBufferPointer { gp in
                    y.withUnsafeBufferPointer { yp in
                        let (xb, gb, yb) = (xp.baseAddress!, gp.baseAddress!, yp.baseAddress!)
                        let ch = 1, stride = c * inner
                        var sum = 0.0, squares = 0.0, sg = [0.0, 0.0], sgx = [0.0, 0.0]
                        for i in 0..<n {
                            let p = ch * inner + i * stride
                            sum += doubleLaneSum(xb + p, inner)
                            squares += doubleLaneSumOfSquares(xb + p, inner, minus: 1e9)
                            for (j, mask) in [nil, yb + p].enumerated() {
                                let (a, b) = gradientLaneSums(gb + p, xb + p, inner, mean: mu, invStd: s, through: mask)
                                sg[j] += a; sgx[j] += b
                            }
                        }
                        for w in widths {
                            XCTAssertGreaterThan(vip_vecmath_use_width(w), 0)
                            let p = xb + ch * inner
                            XCTAssertEqual(vip_bn_channel_sum(p, n, stride, inner).bitPattern, sum.bitPattern, "sum, \(n)x\(inner), width \(w)")
                            XCTAssertEqual(vip_bn_channel_squares(p, n, stride, inner, 1e9).bitPattern, squares.bitPattern,
                                           "squares, \(n)x\(inner), width \(w)")
                            for (j, mask) in [nil, yb + ch * inner].enumerated() {
                                var a = 0.0, b = 0.0
                                vip_bn_gradient_sums(gb + ch * inner, p, mask, n, stride, inner, mu, s, &a, &b)
                                XCTAssertEqual(a.bitPattern, sg[j].bitPattern, "sum g, \(n)x\(inner), masked \(j), width \(w)")
                                XCTAssertEqual(b.bitPattern, sgx[j].bitPattern, "sum g x-hat, \(n)x\(inner), masked \(j), width \(w)")
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Norm.swift's training batch norm before its loops moved to C: output, running mean and
/// variance (from 0.1, -0.2, 0.3 and 1, 0.5, 2, momentum 0.1), and the gradients of x, weight and
/// bias for the upstream gradient `upstream`.
private func referenceBatchNorm(_ xs: [Float], shape: [Int], gamma: [Float], beta: [Float], upstream: [Float],
                                relu: Bool) -> [[Float]] {
    let (n, c, inner) = (shape[0], shape[1], shape[2])
    let m = n * inner, eps: Float = 1e-5, momentum: Float = 0.1
    var runningMean: [Float] = [0.1, -0.2, 0.3], runningVar: [Float] = [1, 0.5, 2]
    var mean = [Float](repeating: 0, count: c), invStd = mean
    var y = [Float](repeating: 0, count: xs.count), dx = y
    var sumG = mean, sumGX = mean
    xs.withUnsafeBufferPointer { xp in
        upstream.withUnsafeBufferPointer { gp in
            let (x, gg) = (xp.baseAddress!, gp.baseAddress!)
            for ch in 0..<c {
                var s = 0.0
                for i in 0..<n { s += doubleLaneSum(x + (i * c + ch) * inner, inner) }
                let mu = s / Double(m)
                var v = 0.0
                for i in 0..<n { v += doubleLaneSumOfSquares(x + (i * c + ch) * inner, inner, minus: mu) }
                mean[ch] = Float(mu)
                let variance = Float(v / Double(m))
                invStd[ch] = 1 / (variance + eps).squareRoot()
                let unbiased = variance * Float(m) / Float(m - 1)
                runningMean[ch] = (1 - momentum) * runningMean[ch] + momentum * mean[ch]
                runningVar[ch] = (1 - momentum) * runningVar[ch] + momentum * unbiased
            }
            for plane in 0..<(n * c) {
                let ch = plane % c
                for k in 0..<inner {
                    let v = (x[plane * inner + k] - mean[ch]) * invStd[ch] * gamma[ch] + beta[ch]
                    y[plane * inner + k] = relu ? max(v, 0) : v
                }
            }
            y.withUnsafeBufferPointer { yp in
                let yy = relu ? yp.baseAddress! : nil
                for ch in 0..<c {
                    var a = 0.0, b = 0.0
                    for i in 0..<n {
                        let base = (i * c + ch) * inner
                        let (sums, products) = gradientLaneSums(gg + base, x + base, inner, mean: mean[ch], invStd: invStd[ch],
                                                                through: yy.map { $0 + base })
                        a += sums; b += products
                    }
                    sumG[ch] = Float(a); sumGX[ch] = Float(b)
                }
                dx.withUnsafeMutableBufferPointer { dp in
                    for plane in 0..<(n * c) {
                        let ch = plane % c, base = plane * inner
                        batchNormInputGradient(gg + base, x + base, through: yy.map { $0 + base }, into: dp.baseAddress! + base, inner,
                                               k1: gamma[ch] * invStd[ch], meanGradient: sumG[ch] / Float(m),
                                               meanGradientX: sumGX[ch] / Float(m), mean: mean[ch], invStd: invStd[ch])
                    }
                }
            }
        }
    }
    return [y, runningMean, runningVar, dx, sumGX, sumG]
}

/// The sum of n floats in Double, four lanes in a fixed order.

private func doubleLaneSum(_ p: UnsafePointer<Float>, _ n: Int) -> Double {
    var acc = SIMD4<Double>(repeating: 0)
    var k = 0
    while k + 4 <= n {
        acc += SIMD4<Double>(Double(p[k]), Double(p[k + 1]), Double(p[k + 2]), Double(p[k + 3]))
        k += 4
    }
    var s = (acc[0] + acc[1]) + (acc[2] + acc[3])
    while k < n { s += Double(p[k]); k += 1 }
    return s
}

/// The sum of (p[k] - mu)^2 in Double, four lanes in a fixed order.

private func doubleLaneSumOfSquares(_ p: UnsafePointer<Float>, _ n: Int, minus mu: Double) -> Double {
    var acc = SIMD4<Double>(repeating: 0)
    let m = SIMD4<Double>(repeating: mu)
    var k = 0
    while k + 4 <= n {
        let d = SIMD4<Double>(Double(p[k]), Double(p[k + 1]), Double(p[k + 2]), Double(p[k + 3])) - m
        acc += d * d
        k += 4
    }
    var s = (acc[0] + acc[1]) + (acc[2] + acc[3])
    while k < n { let d = Double(p[k]) - mu; s += d * d; k += 1 }
    return s
}

/// Batch norm's backward sums over one plane: sum g and sum g x-hat (x-hat = (x - mean) invStd,
/// in Float as the forward pass computes it), in Double, four lanes in a fixed order.

private func gradientLaneSums(_ g: UnsafePointer<Float>, _ x: UnsafePointer<Float>, _ n: Int, mean mu: Float, invStd s: Float,
                      through y: UnsafePointer<Float>? = nil) -> (Double, Double) {
    var a = SIMD4<Double>(repeating: 0), b = SIMD4<Double>(repeating: 0)
    var k = 0
    while k + 4 <= n {
        var gv = SIMD4<Float>(g[k], g[k + 1], g[k + 2], g[k + 3])
        if let y { gv.replace(with: 0, where: .!(SIMD4<Float>(y[k], y[k + 1], y[k + 2], y[k + 3]) .> 0)) }
        let xv = SIMD4<Float>(x[k], x[k + 1], x[k + 2], x[k + 3])
        let p = gv * ((xv - SIMD4(repeating: mu)) * SIMD4(repeating: s))
        a += SIMD4<Double>(Double(gv[0]), Double(gv[1]), Double(gv[2]), Double(gv[3]))
        b += SIMD4<Double>(Double(p[0]), Double(p[1]), Double(p[2]), Double(p[3]))
        k += 4
    }
    var sa = (a[0] + a[1]) + (a[2] + a[3]), sb = (b[0] + b[1]) + (b[2] + b[3])
    while k < n {
        let gk = y.map { $0[k] > 0 } ?? true ? g[k] : 0
        sa += Double(gk); sb += Double(gk * ((x[k] - mu) * s)); k += 1
    }
    return (sa, sb)
}

/// A training batch norm's input gradient over one plane of n values,
/// dx = k1 (g' - mg - ((x - mu) s) mgx), where g' is g zeroed where !(y > 0) (the fused ReLU's
/// gradient) or g itself when y is nil. Eight lanes at a time (a masked load does not vectorise as
/// a scalar loop), with the same operations per element as the scalar tail.

private func batchNormInputGradient(_ g: UnsafePointer<Float>, _ x: UnsafePointer<Float>, through y: UnsafePointer<Float>?,
                            into dx: UnsafeMutablePointer<Float>, _ n: Int, k1: Float, meanGradient mg: Float,
                            meanGradientX mgx: Float, mean mu: Float, invStd s: Float) {
    let (rg, rx, rd) = (UnsafeRawPointer(g), UnsafeRawPointer(x), UnsafeMutableRawPointer(dx))
    let (vk1, vmg, vmgx, vmu, vs) = (SIMD8<Float>(repeating: k1), SIMD8<Float>(repeating: mg), SIMD8<Float>(repeating: mgx),
                                     SIMD8<Float>(repeating: mu), SIMD8<Float>(repeating: s))
    var k = 0
    while k + 8 <= n {
        var gv = rg.loadUnaligned(fromByteOffset: k * 4, as: SIMD8<Float>.self)
        if let y { gv.replace(with: 0, where: .!(UnsafeRawPointer(y).loadUnaligned(fromByteOffset: k * 4, as: SIMD8<Float>.self) .> 0)) }
        let xv = rx.loadUnaligned(fromByteOffset: k * 4, as: SIMD8<Float>.self)
        rd.storeBytes(of: vk1 * (gv - vmg - ((xv - vmu) * vs) * vmgx), toByteOffset: k * 4, as: SIMD8<Float>.self)
        k += 8
    }
    while k < n {
        let gk = y.map { $0[k] > 0 } ?? true ? g[k] : 0
        dx[k] = k1 * (gk - mg - ((x[k] - mu) * s) * mgx)
        k += 1
    }
}
