import Benchmark
import Engine

/// conv3d through the engine at R3D-18's layer1 and layer3 shapes (one 3x16x112x112 clip), forward
/// and backward, reported as a custom "GFLOP/s" metric plus wall clock and peak memory.
/// `vipbench bench engine` covers every R3D-18 shape with ratios to GEMM measured in the same run.
let gflops = BenchmarkMetric.custom("GFLOP/s", polarity: .prefersLarger, useScalingFactor: false)

let benchmarks: @Sendable () -> Void = {
    let shapes: [(name: String, c: Int, o: Int, input: [Int])] = [
        ("layer1 64->64 3x3x3 @16x56x56", 64, 64, [16, 56, 56]),
        ("layer3 256->256 3x3x3 @4x14x14", 256, 256, [4, 14, 14]),
    ]
    for s in shapes {
        let flops = 2.0 * Double(s.o * s.c * 27 * s.input.reduce(1, *))
        for backward in [false, true] {
            Benchmark("conv3d \(backward ? "backward" : "forward") \(s.name)",
                      configuration: .init(metrics: [gflops, .wallClock, .peakMemoryResident],
                                           scalingFactor: .one, maxDuration: .seconds(3), maxIterations: 30)) { benchmark in
                var g = SeededGenerator(seed: 1)
                let x = Tensor(randomNormal: [1, s.c] + s.input, generator: &g, requiresGrad: backward)
                let w = Tensor(randomNormal: [s.o, s.c, 3, 3, 3], std: 0.05, generator: &g, requiresGrad: backward)
                let y = x.conv3d(weight: w, padding: .symmetric([1, 1, 1]))
                let seed = [Float](repeating: 0.01, count: y.count)
                let clock = ContinuousClock()
                benchmark.startMeasurement()
                let start = clock.now
                for _ in benchmark.scaledIterations {
                    if backward {
                        x.grad = nil; w.grad = nil; y.grad = nil
                        y.backward(seed: seed)
                    } else {
                        blackHole(Autograd.withoutGradients { x.conv3d(weight: w, padding: .symmetric([1, 1, 1])) })
                    }
                }
                let elapsed = clock.now - start
                benchmark.stopMeasurement()
                let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
                let work = (backward ? 2 : 1) * flops * Double(benchmark.scaledIterations.count)
                benchmark.measurement(gflops, Int((work / seconds / 1e9).rounded()))
            }
        }
    }
}
