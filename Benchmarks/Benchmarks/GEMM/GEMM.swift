import Benchmark
import Engine

/// SGEMM through vipbench's OpenBLAS binding: the 1024^3 baseline and two shapes that convolution
/// lowering produces, at 1 and 2 threads, reported as a custom "GFLOP/s" metric (2 M N K floating-
/// point operations per product over the median wall-clock time of the iterations).
/// `vipbench bench gemm` prints the same figures with ratios to the 1024^3 baseline.
let gflops = BenchmarkMetric.custom("GFLOP/s", polarity: .prefersLarger, useScalingFactor: false)

let benchmarks: @Sendable () -> Void = {
    let shapes: [(name: String, m: Int, n: Int, k: Int)] = [
        ("1024x1024x1024", 1024, 1024, 1024),
        ("conv-stem-64x200704x81", 64, 200704, 81),
        ("conv-stage4-512x392x4608", 512, 392, 4608),
    ]
    for threads in [1, 2] {
        for s in shapes {
            let flops = 2 * s.m * s.n * s.k
            Benchmark("sgemm \(s.name) threads=\(threads)",
                      configuration: .init(metrics: [gflops, .wallClock, .peakMemoryResident],
                                           scalingFactor: .one, maxDuration: .seconds(2), maxIterations: 200)) { benchmark in
                let a = [Float](repeating: 0.5, count: s.m * s.k)
                let b = [Float](repeating: 0.25, count: s.k * s.n)
                var c = [Float](repeating: 0, count: s.m * s.n)
                BLAS.withThreads(threads) {
                    let clock = ContinuousClock()
                    benchmark.startMeasurement()
                    let start = clock.now
                    for _ in benchmark.scaledIterations {
                        BLAS.sgemm(m: s.m, n: s.n, k: s.k, a: a, b: b, c: &c)
                    }
                    let elapsed = clock.now - start
                    benchmark.stopMeasurement()
                    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
                    let iterations = Double(benchmark.scaledIterations.count)
                    benchmark.measurement(gflops, Int((Double(flops) * iterations / seconds / 1e9).rounded()))
                }
                blackHole(c[0])
            }
        }
    }
}
