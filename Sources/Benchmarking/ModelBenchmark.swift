import Engine
import Foundation
import Models
import Store

/// Speed and memory of a whole model: inference (no gradients recorded) or one training step
/// (forward, cross-entropy, backward), at a batch size and thread count.
public enum ModelBenchmark {
    public struct Result: Codable, Sendable {
        public var model: Architecture
        public var input: [Int]
        public var batch: Int
        public var threads: Int
        public var mode: String
        public var secondsPerClip: Double
        public var clipsPerSecond: Double
        public var gmacsPerView: Double
        public var parameters: Int
        /// Achieved GFLOP/s = 2 x MACs (x3 for a training step: forward + two backward products) / time.
        public var achievedGflops: Double
        public var peakResidentBytes: Int?
        public var repeats: Int
        /// Channel-width multiplier (1: the paper's network).
        public var width: Double = 1
    }

    public static func run(model architecture: Architecture, input: [Int], batch: Int = 1, threads: Int = 2, train: Bool = false,
                           classes: Int = 400, width: Double = 1, minimumSeconds: Double = 2, accumulate: Int = 1) -> Result {
        precondition(accumulate >= 1 && batch % accumulate == 0, "the batch must split into \(accumulate) equal micro-batches")
        var initial = SeededGenerator(seed: 0)
        let model = ModelZoo.make(architecture, inputChannels: input[0], classes: classes, width: width,
                                  clip: Array(input.dropFirst()), generator: &initial)
        let cost = ModelZoo.cost(model, input: input)
        var g = SeededGenerator(seed: 1)
        // A training step of `batch` clips runs as `accumulate` micro-batches, each freed after its
        // backward pass, so memory follows the micro-batch.
        let micro = batch / accumulate
        let x = Tensor(randomNormal: [micro] + input, generator: &g)
        let labels = (0..<micro).map { $0 % classes }
        let savedBLAS = BLAS.threads, savedParallel = Parallel.threads
        BLAS.threads = threads; Parallel.threads = threads
        defer { BLAS.threads = savedBLAS; Parallel.threads = savedParallel }
        if train { model.train() } else { model.eval() }
        let step = {
            if train {
                model.zeroGrad()
                for _ in 0..<accumulate {
                    let loss = model(x).crossEntropy(labels: labels) * (1 / Float(accumulate))
                    loss.backward()
                    loss.releaseGraph()
                }
            } else {
                for _ in 0..<accumulate { _ = Autograd.withoutGradients { model(x) } }
            }
        }
        // The peak counts this measurement from its warm-up on, not what earlier work left cached.
        Timing.releaseFreedMemory()
        let canReset = Timing.resetPeak()
        step()  // warm-up (first-touch allocations)
        var times: [Double] = []
        let start = Timing.now()
        repeat {
            let t0 = Timing.now()
            step()
            times.append(Timing.now() - t0)
        } while Timing.now() - start < minimumSeconds && times.count < 50
        let median = Timing.median(times)
        let flops = 2 * Double(cost.macs) * Double(batch) * (train ? 3 : 1)
        return Result(model: architecture, input: input, batch: batch, threads: threads, mode: train ? "train-step" : "inference",
                      secondsPerClip: median / Double(batch), clipsPerSecond: Double(batch) / median,
                      gmacsPerView: Double(cost.macs) / 1e9, parameters: cost.parameters,
                      achievedGflops: flops / median / 1e9, peakResidentBytes: canReset ? Timing.peakResidentBytes() : nil,
                      repeats: times.count, width: width)
    }

    public static func record(_ r: Result) -> PerformanceRecord {
        PerformanceRecord(model: r.model.rawValue, mode: r.mode, inputShape: r.input.map(String.init).joined(separator: "x"), batch: r.batch,
                          gmacsPerView: r.gmacsPerView, parameters: r.parameters, clipsPerSecond: r.clipsPerSecond,
                          latencySeconds: r.secondsPerClip * Double(r.batch), peakRSSBytes: r.peakResidentBytes, threads: r.threads,
                          width: r.width == 1 ? nil : r.width)
    }
}
