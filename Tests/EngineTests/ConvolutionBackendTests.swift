@testable import Engine
import Foundation
import TestSupport
import XCTest

/// oneDNN's convolutions against the engine's own lowering (vol2col + SGEMM, itself checked against
/// a direct loop and finite differences) at the shapes the networks use, where oneDNN's blocked
/// kernels run rather than the tiny cases of the reference tests.
final class ConvolutionBackendTests: XCTestCase {
    struct Case { let x: [Int], w: [Int], stride: [Int], pad: Padding3D, dil: [Int] }

    let cases: [Case] = [
        Case(x: [2, 3, 4, 20, 20], w: [8, 3, 3, 7, 7], stride: [1, 2, 2], pad: .symmetric([1, 3, 3]), dil: [1, 1, 1]),  // R3D stem
        Case(x: [2, 16, 4, 8, 8], w: [16, 16, 3, 3, 3], stride: [1, 1, 1], pad: .symmetric([1, 1, 1]), dil: [1, 1, 1]),
        Case(x: [2, 16, 4, 8, 8], w: [32, 16, 3, 3, 3], stride: [2, 2, 2], pad: .symmetric([1, 1, 1]), dil: [1, 1, 1]),
        Case(x: [2, 32, 4, 6, 6], w: [64, 32, 1, 1, 1], stride: [2, 2, 2], pad: .zero, dil: [1, 1, 1]),                // shortcut
        Case(x: [1, 24, 3, 7, 5], w: [40, 24, 1, 1, 1], stride: [1, 1, 1], pad: .zero, dil: [1, 1, 1]),                // bottleneck
        Case(x: [2, 8, 6, 10, 10], w: [8, 8, 3, 3, 3], stride: [1, 1, 1], pad: .symmetric([2, 1, 1]), dil: [2, 1, 1]), // TCLR's dilation
        // The scaled profiles' first stage: fewer than 16 channels, backward passes channels-last.
        Case(x: [4, 8, 8, 16, 16], w: [8, 8, 3, 3, 3], stride: [1, 1, 1], pad: .symmetric([1, 1, 1]), dil: [1, 1, 1]),
        Case(x: [4, 8, 8, 16, 16], w: [16, 8, 3, 3, 3], stride: [2, 2, 2], pad: .symmetric([1, 1, 1]), dil: [1, 1, 1]),
        Case(x: [1, 3, 9, 17, 17], w: [12, 3, 7, 7, 7], stride: [2, 2, 2],
             pad: .same(input: [9, 17, 17], kernel: [7, 7, 7], stride: [2, 2, 2]), dil: [1, 1, 1]),                  // I3D's SAME stem
    ]

    /// Output, input gradient and weight gradient of one convolution under `backend`, for an
    /// upstream gradient `gy`.
    func run(_ c: Case, _ backend: ConvolutionBackend, seed: UInt64) -> (y: [Float], gx: [Float], gw: [Float]) {
        let x = randomTensor(c.x, seed: seed), w = randomTensor(c.w, seed: seed + 1)
        x.requiresGrad = true; w.requiresGrad = true
        return ConvolutionBackend.with(backend) {
            let y = x.conv3d(weight: w, stride: c.stride, padding: c.pad, dilation: c.dil)
            let gy = randomTensor(y.shape, seed: seed + 2)
            (y * gy).sum().backward()
            return (y.data, x.grad!, w.grad!)
        }
    }

    /// Largest difference relative to the largest magnitude of the reference.
    func relativeError(_ a: [Float], _ b: [Float]) -> Double {
        let scale = b.map { abs(Double($0)) }.max() ?? 1
        return (zip(a, b).map { abs(Double($0) - Double($1)) }.max() ?? 0) / max(scale, 1e-30)
    }

    func testOneDNNAgreesWithTheEngineLoweringAtNetworkShapes() {
        for threads in [1, 2] { for (i, c) in cases.enumerated() {
            let (dnnl, gemm) = Parallel.withThreads(threads) {
                (run(c, .onednn, seed: UInt64(300 + 10 * i)), run(c, .gemm, seed: UInt64(300 + 10 * i)))
            }
            XCTAssertLessThan(relativeError(dnnl.y, gemm.y), 1e-5, "case \(i), \(threads) threads: output")
            XCTAssertLessThan(relativeError(dnnl.gx, gemm.gx), 1e-5, "case \(i), \(threads) threads: input gradient")
            XCTAssertLessThan(relativeError(dnnl.gw, gemm.gw), 1e-5, "case \(i), \(threads) threads: weight gradient")
            XCTAssertGreaterThan(gemm.gw.map { abs($0) }.max() ?? 0, 0.1, "case \(i): the check compares real gradients")
        } }
    }

    /// Same inputs and thread count, same bits: oneDNN splits its work by shape and thread count only.
    func testOneDNNIsBitIdenticalRunToRun() {
        for threads in [1, 2] { for (i, c) in cases.enumerated() {
            let (a, b) = Parallel.withThreads(threads) { (run(c, .onednn, seed: 77), run(c, .onednn, seed: 77)) }
            XCTAssertEqual(a.y, b.y, "case \(i), \(threads) threads")
            XCTAssertEqual(a.gx, b.gx, "case \(i), \(threads) threads")
            XCTAssertEqual(a.gw, b.gw, "case \(i), \(threads) threads")
        } }
    }

    /// The fast mode rounds operands to BF16 (8 bits of mantissa): errors of about 1e-3 relative,
    /// far from exact but far below what changes a prediction.
    func testFastModeIsCloseAndReallyBF16() throws {
        try XCTSkipUnless(ConvolutionBackend.hasBF16, "no BF16 convolutions on this CPU: the fast mode runs FP32 here")
        for (i, c) in cases.enumerated() {
            let fast = run(c, .onednnBF16, seed: UInt64(500 + 10 * i)), exact = run(c, .gemm, seed: UInt64(500 + 10 * i))
            for (what, a, b) in [("output", fast.y, exact.y), ("input gradient", fast.gx, exact.gx), ("weight gradient", fast.gw, exact.gw)] {
                let e = relativeError(a, b)
                XCTAssertLessThan(e, 2e-2, "case \(i) \(what)")
                XCTAssertGreaterThan(e, 1e-5, "case \(i) \(what): BF16 rounding must show")
            }
        }
    }

    func testTheBackendIsNamedForProvenance() {
        XCTAssertTrue(ConvolutionBackend.with(.onednn) { ConvolutionBackend.summary }.hasPrefix("oneDNN 2."))
        XCTAssertTrue(ConvolutionBackend.with(.onednnBF16) { ConvolutionBackend.summary }.contains(ConvolutionBackend.hasBF16 ? "BF16 multiplies" : "no BF16"))
        XCTAssertEqual(ConvolutionBackend.with(.gemm) { ConvolutionBackend.summary }, "vol2col + SGEMM")
    }

    /// The engine's loops run on the OpenMP team: every chunk once, whatever the team size.
    func testTeamLoopsVisitEveryChunkOnce() {
        for threads in [1, 2, 3] {
            var seen = [Int](repeating: 0, count: 37)
            seen.withUnsafeMutableBufferPointer { p in
                let base = p.baseAddress!
                Parallel.withThreads(threads) { Parallel.teamForEach(37) { i in base[i] += 1 } }
            }
            XCTAssertEqual(seen, [Int](repeating: 1, count: 37), "\(threads) threads")
        }
    }
}
