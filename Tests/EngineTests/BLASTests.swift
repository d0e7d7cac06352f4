import Engine
import XCTest

/// The BLAS binding: OpenBLAS's SGEMM against a direct loop, and the thread setting.
final class BLASTests: XCTestCase {
    /// GEMM through OpenBLAS against a direct triple loop in double precision, with transposes.
    func testSgemmMatchesADirectLoop() {
        var seed: UInt64 = 42
        func next() -> Float {
            seed = seed &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int(seed >> 40) % 2001 - 1000) / 1000
        }
        for (m, n, k) in [(1, 1, 1), (3, 5, 7), (17, 33, 65), (64, 9, 130)] {
            for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
                let a = (0..<(m * k)).map { _ in next() }
                let b = (0..<(k * n)).map { _ in next() }
                var c = [Float](repeating: 0.5, count: m * n)
                BLAS.sgemm(transA: ta, transB: tb, m: m, n: n, k: k, alpha: 2, a: a, b: b, beta: -1, c: &c)
                for i in 0..<m {
                    for j in 0..<n {
                        var s = 0.0
                        for p in 0..<k {
                            let av = ta ? a[p * m + i] : a[i * k + p]
                            let bv = tb ? b[j * k + p] : b[p * n + j]
                            s += Double(av) * Double(bv)
                        }
                        let expected = 2 * s - 0.5
                        XCTAssertEqual(Double(c[i * n + j]), expected, accuracy: 1e-4 * max(1, abs(expected)),
                                       "m\(m) n\(n) k\(k) ta\(ta) tb\(tb) at (\(i),\(j))")
                    }
                }
            }
        }
    }

    func testThreadSettingIsRestored() {
        let before = BLAS.threads
        BLAS.withThreads(1) { XCTAssertEqual(BLAS.threads, 1) }
        XCTAssertEqual(BLAS.threads, before)
        XCTAssertTrue(BLAS.configuration.contains("OpenBLAS"))
    }
}
