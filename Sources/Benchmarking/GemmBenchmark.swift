import Engine
import Store

/// SGEMM throughput through the OpenBLAS binding: a 1024^3 square product (the baseline) and two
/// shapes that convolution lowering produces, each at 1 and 2 threads. Every figure is reported
/// with its ratio to the 1024^3 product measured in the same run at the same thread count.
public enum GemmBenchmark {
    public struct Shape: Sendable {
        public var name: String
        public var m: Int, n: Int, k: Int
        public var flops: Double { 2 * Double(m) * Double(n) * Double(k) }
    }

    public static let baselineName = "sgemm-1024x1024x1024"

    public static let shapes: [Shape] = [
        Shape(name: baselineName, m: 1024, n: 1024, k: 1024),
        // R3D-18's stem as a GEMM: 64 filters x (16*56*56*4 output positions) x (3*3*3*3 taps);
        // small K, so packing dominates.
        Shape(name: "sgemm-conv-stem-64x200704x81", m: 64, n: 200704, k: 81),
        // A stage-4 3x3x3 convolution: 512 filters x (2*14*14 positions) x (256*27 taps).
        Shape(name: "sgemm-conv-stage4-512x392x4608", m: 512, n: 392, k: 4608),
    ]

    public struct Result: Codable, Sendable {
        public var name: String
        public var m: Int, n: Int, k: Int
        public var threads: Int
        public var medianSeconds: Double
        public var gflops: Double
        public var repeats: Int
        /// GFLOP/s divided by the baseline's at the same thread count, measured in this run.
        public var ratioToBaseline: Double
        public var baseline: String
    }

    /// Measures every shape at every thread count. `progress` is told each result as it lands.
    public static func run(threads: [Int] = [1, 2], minimumSeconds: Double = 0.6,
                           progress: (Result) -> Void = { _ in }) -> [Result] {
        var results: [Result] = []
        for t in threads {
            var baselineGflops = Double.nan
            for shape in shapes {
                let (median, repeats) = BLAS.withThreads(t) { time(shape, minimumSeconds: minimumSeconds) }
                let gflops = shape.flops / median / 1e9
                if shape.name == baselineName { baselineGflops = gflops }
                let r = Result(name: shape.name, m: shape.m, n: shape.n, k: shape.k, threads: t,
                               medianSeconds: median, gflops: gflops, repeats: repeats,
                               ratioToBaseline: gflops / baselineGflops, baseline: baselineName)
                results.append(r)
                progress(r)
            }
        }
        return results
    }

    static func time(_ s: Shape, minimumSeconds: Double) -> (Double, Int) {
        // Deterministic, non-trivial inputs (denormal-free): the values do not change the speed.
        let a = (0..<(s.m * s.k)).map { Float(($0 % 97) - 48) / 97 }
        let b = (0..<(s.k * s.n)).map { Float(($0 % 89) - 44) / 89 }
        var c = [Float](repeating: 0, count: s.m * s.n)
        let times = a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                c.withUnsafeMutableBufferPointer { pc in
                    Timing.measure(minimumSeconds: minimumSeconds, minimumRepeats: 5) {
                        BLAS.sgemm(m: s.m, n: s.n, k: s.k, a: pa.baseAddress!, b: pb.baseAddress!, c: pc.baseAddress!)
                    }
                }
            }
        }
        return (Timing.median(times), times.count)
    }

    /// The results as store records.
    public static func records(_ results: [Result]) -> [BenchmarkRecord] {
        results.map {
            BenchmarkRecord(name: $0.name, threads: $0.threads, value: $0.gflops, unit: "GFLOP/s",
                            baseline: $0.baseline, ratio: $0.ratioToBaseline)
        }
    }
}
