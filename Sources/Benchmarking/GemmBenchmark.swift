import Engine
import Store

/// SGEMM throughput of the engine's GEMM (oneDNN's) against OpenBLAS's, at the same shape and
/// thread count in the same run: a 1024^3 square product, two shapes of R3D-18's convolutions
/// lowered to GEMMs and three of MViT-B's token products (tall and thin: 25,089 tokens of 96
/// channels in its first stage), each at 1 and 2 threads.
public enum GemmBenchmark {
    public struct Shape: Sendable {
        public var name: String
        public var m: Int, n: Int, k: Int
        public var transB = false
        public var flops: Double { 2 * Double(m) * Double(n) * Double(k) }
    }

    public static let shapes: [Shape] = [
        Shape(name: "sgemm-1024x1024x1024", m: 1024, n: 1024, k: 1024),
        // R3D-18's stem as a GEMM: 64 filters x (16*56*56*4 output positions) x (3*3*3*3 taps);
        // small K, so packing dominates.
        Shape(name: "sgemm-conv-stem-64x200704x81", m: 64, n: 200704, k: 81),
        // A stage-4 3x3x3 convolution: 512 filters x (2*14*14 positions) x (256*27 taps).
        Shape(name: "sgemm-conv-stage4-512x392x4608", m: 512, n: 392, k: 4608),
        // MViT-B's first stage: the QKV projection, Q K^T against 392 pooled keys, the MLP's
        // second layer.
        Shape(name: "sgemm-mvit-qkv-25089x288x96", m: 25089, n: 288, k: 96),
        Shape(name: "sgemm-mvit-qk-25089x393x96", m: 25089, n: 393, k: 96, transB: true),
        Shape(name: "sgemm-mvit-mlp-25089x96x384", m: 25089, n: 96, k: 384),
    ]

    public struct Result: Codable, Sendable {
        public var name: String
        public var library: String
        public var m: Int, n: Int, k: Int
        public var threads: Int
        public var medianSeconds: Double
        public var gflops: Double
        public var repeats: Int
        /// GFLOP/s over OpenBLAS's at the same shape and thread count, measured in this run.
        public var ratioToOpenblas: Double
        public var baseline: String
    }

    /// Measures every shape with each library at every thread count, OpenBLAS first. `progress` is
    /// told each result as it lands.
    public static func run(threads: [Int] = [1, 2], minimumSeconds: Double = 0.6,
                           progress: (Result) -> Void = { _ in }) -> [Result] {
        var results: [Result] = []
        for t in threads {
            for shape in shapes {
                var openblasGflops = Double.nan
                for library in [BLAS.Library.openblas, .onednn] {
                    let (median, repeats) = BLAS.withThreads(t) { time(shape, library: library, minimumSeconds: minimumSeconds) }
                    let gflops = shape.flops / median / 1e9
                    if library == .openblas { openblasGflops = gflops }
                    let r = Result(name: shape.name, library: library.rawValue, m: shape.m, n: shape.n, k: shape.k, threads: t,
                                   medianSeconds: median, gflops: gflops, repeats: repeats,
                                   ratioToOpenblas: gflops / openblasGflops, baseline: shape.name + " openblas")
                    results.append(r)
                    progress(r)
                }
            }
        }
        return results
    }

    static func time(_ s: Shape, library: BLAS.Library = .onednn, minimumSeconds: Double) -> (Double, Int) {
        // Deterministic, non-trivial inputs (denormal-free): the values do not change the speed.
        let a = (0..<(s.m * s.k)).map { Float(($0 % 97) - 48) / 97 }
        let b = (0..<(s.k * s.n)).map { Float(($0 % 89) - 44) / 89 }
        var c = [Float](repeating: 0, count: s.m * s.n)
        let times = a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                c.withUnsafeMutableBufferPointer { pc in
                    Timing.measure(minimumSeconds: minimumSeconds, minimumRepeats: 5) {
                        BLAS.sgemm(transB: s.transB, m: s.m, n: s.n, k: s.k, a: pa.baseAddress!, b: pb.baseAddress!,
                                   c: pc.baseAddress!, library: library)
                    }
                }
            }
        }
        return (Timing.median(times), times.count)
    }

    /// The results as store records.
    public static func records(_ results: [Result]) -> [BenchmarkRecord] {
        results.map {
            BenchmarkRecord(name: $0.name + " " + $0.library, threads: $0.threads, value: $0.gflops, unit: "GFLOP/s",
                            baseline: $0.baseline, ratio: $0.ratioToOpenblas)
        }
    }
}
