import CBLAS
import CDNNL

/// The GEMM binding: every heavy product in vipbench goes through `BLAS.sgemm` (oneDNN's kernels;
/// OpenBLAS keeps the engine's thread setting and serves as the comparison).
///
/// Matrices are row-major Float32. `sgemm` computes `C = alpha * op(A) * op(B) + beta * C` with
/// `op(A)` of shape M x K, `op(B)` of shape K x N and `C` of shape M x N.
public enum BLAS {
    /// The number of threads OpenBLAS uses for the next call.
    public static var threads: Int {
        get { Int(openblas_get_num_threads()) }
        set { openblas_set_num_threads(Int32(max(1, newValue))) }
    }

    /// OpenBLAS's build configuration string (version, build options, core).
    public static var configuration: String {
        guard let c = openblas_get_config() else { return "unknown" }
        return String(cString: c).trimmingCharacters(in: " ")
    }

    /// The CPU kernel family OpenBLAS selected at load time (DYNAMIC_ARCH builds choose per machine).
    public static var coreName: String {
        guard let c = openblas_get_corename() else { return "unknown" }
        return String(cString: c)
    }

    /// Runs `body` with OpenBLAS limited to `count` threads, then restores the previous setting.
    public static func withThreads<T>(_ count: Int, _ body: () throws -> T) rethrows -> T {
        let previous = threads
        threads = count
        defer { threads = previous }
        return try body()
    }

    /// The SGEMM implementations the engine can call.
    public enum Library: String, CaseIterable, Sendable {
        /// oneDNN's `dnnl_sgemm`: JIT kernels chosen for the CPU at run time (AVX-512, AVX2, SSE4.1).
        case onednn
        /// OpenBLAS's `cblas_sgemm`: its kernel family is chosen when it loads, by CPU model; a model it
        /// does not know gets old generic kernels (Prescott: SSE3), several times slower.
        case openblas
    }

    /// Row-major single-precision GEMM on raw buffers, on `threads` threads. Every product of the
    /// engine goes through oneDNN's, whose kernels do not depend on OpenBLAS recognising the CPU
    /// (`vipbench bench gemm` measures the two side by side); `library` selects OpenBLAS for
    /// comparisons.
    ///
    /// - Parameters:
    ///   - transA, transB: whether A (stored K x M) or B (stored N x K) is transposed.
    ///   - lda, ldb, ldc: leading dimensions; default to the packed row length.
    public static func sgemm(
        transA: Bool = false, transB: Bool = false,
        m: Int, n: Int, k: Int,
        alpha: Float = 1, a: UnsafePointer<Float>, lda: Int? = nil,
        b: UnsafePointer<Float>, ldb: Int? = nil,
        beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int? = nil,
        library: Library = .onednn
    ) {
        let lda = lda ?? (transA ? m : k)
        let ldb = ldb ?? (transB ? k : n)
        let ldc = ldc ?? n
        switch library {
        case .onednn:
            let status = vip_sgemm(transA ? 1 : 0, transB ? 1 : 0, Int64(m), Int64(n), Int64(k), alpha, a, Int64(lda),
                                   b, Int64(ldb), beta, c, Int64(ldc), Int32(threads))
            precondition(status == 0, "sgemm \(m)x\(n)x\(k): \(String(cString: vip_dnnl_error()))")
        case .openblas:
            cblas_sgemm(CblasRowMajor,
                        transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                        Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb),
                        beta, c, Int32(ldc))
        }
    }

    /// Row-major GEMM on arrays: `C[M x N] = A[M x K] * B[K x N]` (no transposes).
    public static func matmul(_ a: [Float], _ b: [Float], m: Int, n: Int, k: Int) -> [Float] {
        precondition(a.count == m * k && b.count == k * n, "matmul: shapes disagree with buffer sizes")
        var c = [Float](repeating: 0, count: m * n)
        a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                c.withUnsafeMutableBufferPointer { pc in
                    sgemm(m: m, n: n, k: k, a: pa.baseAddress!, b: pb.baseAddress!, c: pc.baseAddress!)
                }
            }
        }
        return c
    }
}

extension String {
    fileprivate func trimmingCharacters(in set: Character) -> String {
        var s = Substring(self)
        while s.first == set || s.first == "\n" { s = s.dropFirst() }
        while s.last == set || s.last == "\n" { s = s.dropLast() }
        return String(s)
    }
}
