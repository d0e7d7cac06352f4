import CDNNL
import Dispatch
import Foundation

/// Parallel loops for the non-BLAS kernels (vol2col, pooling, norms, elementwise), on the OpenMP
/// team oneDNN's convolutions also run on.
///
/// Work is split into fixed chunks that depend only on the problem size and `Parallel.threads`,
/// never on timing, and every chunk writes a disjoint part of the output, so results are
/// bit-identical run to run for a given thread count.
public enum Parallel {
    /// Threads for the engine's own loops (OpenBLAS has its own setting, `BLAS.threads`).
    public nonisolated(unsafe) static var threads: Int = ProcessInfo.processInfo.activeProcessorCount

    /// Runs `body` with the engine's loops and OpenBLAS both at `count` threads, then restores them.
    public static func withThreads<T>(_ count: Int, _ body: () throws -> T) rethrows -> T {
        let previous = threads
        threads = count
        defer { threads = previous }
        return try BLAS.withThreads(count, body)
    }

    /// Runs `body(range)` over `0..<count` in contiguous chunks; serial when small.
    public static func forEach(_ count: Int, minimumChunk: Int = 4096, _ body: (Range<Int>) -> Void) {
        let chunks = min(threads, max(1, count / max(minimumChunk, 1)))
        if chunks <= 1 {
            if count > 0 { body(0..<count) }
            return
        }
        let size = (count + chunks - 1) / chunks
        teamForEach(chunks) { i in
            let lo = i * size, hi = min(count, lo + size)
            if lo < hi { body(lo..<hi) }
        }
    }

    /// Runs `body(i)` for i in 0..<chunks on the OpenMP team oneDNN's convolutions use (one pool
    /// of warm threads for the whole engine; a second pool would spin against it for the cores).
    public static func teamForEach(_ chunks: Int, _ body: (Int) -> Void) {
        withoutActuallyEscaping(body) { body in
            var job = body
            withUnsafeMutablePointer(to: &job) { pointer in
                vip_parallel_chunks(Int64(chunks), Int32(threads), { context, i in
                    context!.assumingMemoryBound(to: ((Int) -> Void).self).pointee(Int(i))
                }, UnsafeMutableRawPointer(pointer))
            }
        }
    }
}
