@testable import Engine
import CVectorMath
import XCTest

/// Softmax and GELU run in C (CVectorMath), compiled for AVX-512, AVX2 and baseline x86-64 and
/// picked at run time. Each kernel this CPU can run must give, bit for bit, what the Swift
/// arithmetic it replaced gives (FastMath.swift's fastExp / fastErf, Softmax.swift's lane sums),
/// so results do not depend on the CPU's vector width. Their accuracy against libm is tested in
/// ReferenceTests and GradientTests.
final class VectorMathTests: XCTestCase {
    /// Every kernel width this CPU runs (at least the baseline's).
    var widths: [Int32] { [128, 256, 512].filter { $0 <= vip_vecmath_widest() } }

    /// Runs `body` once per supported width, then restores the widest.
    func forEachWidth(_ body: (Int32) throws -> Void) rethrows {
        let original = vip_vecmath_width()
        defer { _ = vip_vecmath_use_width(original) }
        for w in widths {
            XCTAssertGreaterThan(vip_vecmath_use_width(w), 0)
            XCTAssertEqual(vip_vecmath_width(), w)
            try body(w)
        }
    }

    /// Values over GELU's and exp's whole range: a dense sweep, the clamps' edges, signed zeros,
    /// subnormals, huge values and normal draws. 100_003 of them: more than one parallel chunk,
    /// and a length that no vector width divides.
    func inputs() -> [Float] {
        var v: [Float] = [0, -0.0, .leastNormalMagnitude / 4, -.leastNormalMagnitude / 4, 1e-30, -1e-30, 87.33654, -87.33654, 88.72283, 88.8, -88.8,
                          200, -200, 1e10, -1e10, .greatestFiniteMagnitude, -.greatestFiniteMagnitude]
        v += (0..<20_001).map { Float(-20 + 40 * Double($0) / 20_000) }
        var g = SeededGenerator(seed: 41)
        while v.count < 100_003 { v.append(Float(g.normal() * 3)) }
        return v
    }

    func testGELUIsTheSwiftArithmeticBitForBitAtEveryWidth() {
        let x = inputs()
        let expected = x.map { GELUFunction.value($0).bitPattern }
        forEachWidth { w in
            let y = Tensor(shape: [x.count], data: x).gelu().data
            let mismatches = zip(y, expected).filter { $0.0.bitPattern != $0.1 }.count
            XCTAssertEqual(mismatches, 0, "width \(w)")
        }
        XCTAssertEqual(Tensor(shape: [3], data: [-1, 0, 1]).gelu().data[2], 0.8413447, accuracy: 1e-6)
    }

    func testGELUGradientIsTheSwiftArithmeticBitForBitAtEveryWidth() {
        let x = inputs()
        var g = SeededGenerator(seed: 42)
        let upstream = x.map { _ in Float(g.normal()) }
        let expected = zip(x, upstream).map { GELUFunction.gradient($0, $1).bitPattern }
        forEachWidth { w in
            let t = Tensor(shape: [x.count], data: x, requiresGrad: true)
            (t.gelu() * Tensor(shape: [x.count], data: upstream)).sum().backward()
            let mismatches = zip(t.grad ?? [], expected).filter { $0.0.bitPattern != $0.1 }.count
            XCTAssertEqual(t.grad?.count, x.count)
            XCTAssertEqual(mismatches, 0, "width \(w)")
        }
    }

    /// Softmax.swift's row loop before the C kernel: max in eight lanes, fastExp(x - max), the sum
    /// in eight lanes, times its reciprocal.
    func referenceSoftmax(_ x: [Float], d: Int) -> [Float] {
        var y = [Float](repeating: 0, count: x.count)
        x.withUnsafeBufferPointer { xp in
            y.withUnsafeMutableBufferPointer { yp in
                for r in 0..<(x.count / d) {
                    let (xr, yr) = (xp.baseAddress! + r * d, yp.baseAddress! + r * d)
                    let m = laneMax(xr, d)
                    for k in 0..<d { yr[k] = fastExp(xr[k] - m) }
                    let inv = 1 / laneSum(yr, d)
                    for k in 0..<d { yr[k] *= inv }
                }
            }
        }
        return y
    }

    func testSoftmaxIsTheSwiftArithmeticBitForBitAtEveryWidth() {
        var g = SeededGenerator(seed: 43)
        // Row lengths around the lane counts, and MViT's key counts; rows of large and of tied values.
        for d in [1, 7, 8, 9, 16, 17, 50, 393, 1_000] {
            let rows = max(3, 40_000 / d)
            var x = (0..<(rows * d)).map { _ in Float(g.normal() * 4) }
            for k in 0..<d { x[k] = 80 * Float(k % 3) }   // row 0: large, tied values
            for k in 0..<d { x[d + k] = -1 }              // row 1: constant
            let expected = referenceSoftmax(x, d: d).map(\.bitPattern)
            forEachWidth { w in
                let y = Tensor(shape: [rows, d], data: x).softmax().data
                let mismatches = zip(y, expected).filter { $0.0.bitPattern != $0.1 }.count
                XCTAssertEqual(mismatches, 0, "d \(d), width \(w)")
                XCTAssertEqual(y[d], 1 / Float(d), accuracy: 1e-6, "constant row, d \(d)")
            }
        }
    }

    func testTheWidestKernelIsPickedAndUnsupportedWidthsAreRefused() {
        XCTAssert([128, 256, 512].contains(vip_vecmath_width()))
        XCTAssertEqual(widths.last, vip_vecmath_width())
        XCTAssertEqual(vip_vecmath_use_width(384), -1)
        XCTAssertEqual(vip_vecmath_width(), widths.last)
    }
}

/// The largest of n floats (n >= 1), eight lanes at a time: Softmax.swift's row maximum before the
/// C kernel took it over.
private func laneMax(_ p: UnsafePointer<Float>, _ n: Int) -> Float {
    var acc = SIMD8<Float>(repeating: -.infinity)
    var k = 0
    let raw = UnsafeRawPointer(p)
    while k + 8 <= n {
        let v = raw.loadUnaligned(fromByteOffset: k * 4, as: SIMD8<Float>.self)
        acc.replace(with: v, where: v .> acc)
        k += 8
    }
    var m = -Float.infinity
    for j in 0..<8 { m = max(m, acc[j]) }
    while k < n { m = max(m, p[k]); k += 1 }
    return m
}
