import Engine
import Foundation
import Models
import Store

/// The engine's speed against OpenBLAS's own GEMM, measured in the same run: conv3d forward and
/// backward (data + weight gradients) at every distinct convolution shape of R3D-18 on one
/// 3x16x112x112 clip, and the peak memory of a whole R3D-18 forward in inference mode.
public enum EngineBenchmark {
    public struct ConvShape: Sendable {
        public var name: String
        public var inChannels: Int, outChannels: Int
        public var input: [Int]      // T, H, W
        public var kernel: [Int], stride: [Int], padding: [Int]

        /// Multiply-adds x 2 of one forward pass at batch 1.
        public var flops: Double {
            let out = Window3D(kernel: kernel, stride: stride, padding: .symmetric(padding)).outputSize(input)
            return 2 * Double(outChannels * inChannels * kernel.reduce(1, *) * out.reduce(1, *))
        }
    }

    /// R3D-18's distinct convolutions (torchvision r3d_18) at 3x16x112x112.
    public static let r3d18Shapes: [ConvShape] = [
        ConvShape(name: "stem 3->64 3x7x7 s1x2x2 @16x112x112", inChannels: 3, outChannels: 64, input: [16, 112, 112], kernel: [3, 7, 7], stride: [1, 2, 2], padding: [1, 3, 3]),
        ConvShape(name: "layer1 64->64 3x3x3 @16x56x56", inChannels: 64, outChannels: 64, input: [16, 56, 56], kernel: [3, 3, 3], stride: [1, 1, 1], padding: [1, 1, 1]),
        ConvShape(name: "layer2.0 64->128 3x3x3 s2 @16x56x56", inChannels: 64, outChannels: 128, input: [16, 56, 56], kernel: [3, 3, 3], stride: [2, 2, 2], padding: [1, 1, 1]),
        ConvShape(name: "layer2 128->128 3x3x3 @8x28x28", inChannels: 128, outChannels: 128, input: [8, 28, 28], kernel: [3, 3, 3], stride: [1, 1, 1], padding: [1, 1, 1]),
        ConvShape(name: "layer2.0.downsample 64->128 1x1x1 s2", inChannels: 64, outChannels: 128, input: [16, 56, 56], kernel: [1, 1, 1], stride: [2, 2, 2], padding: [0, 0, 0]),
        ConvShape(name: "layer3.0 128->256 3x3x3 s2 @8x28x28", inChannels: 128, outChannels: 256, input: [8, 28, 28], kernel: [3, 3, 3], stride: [2, 2, 2], padding: [1, 1, 1]),
        ConvShape(name: "layer3 256->256 3x3x3 @4x14x14", inChannels: 256, outChannels: 256, input: [4, 14, 14], kernel: [3, 3, 3], stride: [1, 1, 1], padding: [1, 1, 1]),
        ConvShape(name: "layer3.0.downsample 128->256 1x1x1 s2", inChannels: 128, outChannels: 256, input: [8, 28, 28], kernel: [1, 1, 1], stride: [2, 2, 2], padding: [0, 0, 0]),
        ConvShape(name: "layer4.0 256->512 3x3x3 s2 @4x14x14", inChannels: 256, outChannels: 512, input: [4, 14, 14], kernel: [3, 3, 3], stride: [2, 2, 2], padding: [1, 1, 1]),
        ConvShape(name: "layer4 512->512 3x3x3 @2x7x7", inChannels: 512, outChannels: 512, input: [2, 7, 7], kernel: [3, 3, 3], stride: [1, 1, 1], padding: [1, 1, 1]),
        ConvShape(name: "layer4.0.downsample 256->512 1x1x1 s2", inChannels: 256, outChannels: 512, input: [4, 14, 14], kernel: [1, 1, 1], stride: [2, 2, 2], padding: [0, 0, 0]),
    ]

    public struct Line: Codable, Sendable {
        public var name: String
        public var gflops: Double
        public var ratioToGemm: Double
        public var medianSeconds: Double
        public var threads: Int
    }

    public struct Report: Codable, Sendable {
        public var lines: [Line]
        public var forwardGeometricMeanRatio: Double
        public var backwardGeometricMeanRatio: Double
        public var r3d18InferenceSecondsPerClip: Double
        public var r3d18InferencePeakBytes: Int?
        public var r3d18InferencePeakIncreaseBytes: Int?
    }

    public static func run(minimumSeconds: Double = 0.5, includeR3D: Bool = true, progress: (Line) -> Void = { _ in }) -> Report {
        let threads = BLAS.threads
        var lines: [Line] = []
        var g = SeededGenerator(seed: 2021)

        // R3D-18 forward in inference mode, first, so the peak reflects it alone.
        var r3dSeconds = Double.nan, peak: Int?, increase: Int?
        if includeR3D {
            let model = VideoResNet(classes: 400, generator: &g)
            model.eval()
            var x: Tensor? = Tensor(randomNormal: [1, 3, 16, 112, 112], generator: &g)
            let before = Timing.residentBytes()
            let canReset = Timing.resetPeak()
            let t0 = Timing.now()
            _ = Autograd.withoutGradients { model(x!) }
            r3dSeconds = Timing.now() - t0
            if canReset { peak = Timing.peakResidentBytes(); increase = peak.flatMap { p in before.map { p - $0 } } }
            x = nil
            let times = Timing.measure(minimumSeconds: minimumSeconds, minimumRepeats: 2) {
                let clip = Tensor(randomNormal: [1, 3, 16, 112, 112], generator: &g)
                _ = Autograd.withoutGradients { model(clip) }
            }
            r3dSeconds = min(r3dSeconds, Timing.median(times))
        }

        // The GEMM baseline.
        let gemm = GemmBenchmark.shapes[0]
        let (gemmSeconds, _) = GemmBenchmark.time(gemm, minimumSeconds: minimumSeconds)
        let gemmGflops = gemm.flops / gemmSeconds / 1e9
        let base = Line(name: "gemm 1024x1024x1024", gflops: gemmGflops, ratioToGemm: 1, medianSeconds: gemmSeconds, threads: threads)
        lines.append(base)
        progress(base)

        var forwardRatios: [Double] = [], backwardRatios: [Double] = []
        for s in r3d18Shapes {
            let x = Tensor(randomNormal: [1, s.inChannels] + s.input, generator: &g, requiresGrad: true)
            let w = Tensor(randomNormal: [s.outChannels, s.inChannels] + s.kernel, std: 0.05, generator: &g, requiresGrad: true)
            let fwd = Timing.measure(minimumSeconds: minimumSeconds, minimumRepeats: 3) {
                _ = Autograd.withoutGradients { x.conv3d(weight: w, stride: s.stride, padding: .symmetric(s.padding)) }
            }
            let y = x.conv3d(weight: w, stride: s.stride, padding: .symmetric(s.padding))
            let seed = [Float](repeating: 0.01, count: y.count)
            let bwd = Timing.measure(minimumSeconds: minimumSeconds, minimumRepeats: 3) {
                x.grad = nil; w.grad = nil   // y's own gradient is freed by each pass
                y.backward(seed: seed, retainGraph: true)
            }
            let (tf, tb) = (Timing.median(fwd), Timing.median(bwd))
            let f = Line(name: "conv3d forward \(s.name)", gflops: s.flops / tf / 1e9,
                         ratioToGemm: s.flops / tf / 1e9 / gemmGflops, medianSeconds: tf, threads: threads)
            let b = Line(name: "conv3d backward \(s.name)", gflops: 2 * s.flops / tb / 1e9,
                         ratioToGemm: 2 * s.flops / tb / 1e9 / gemmGflops, medianSeconds: tb, threads: threads)
            forwardRatios.append(f.ratioToGemm); backwardRatios.append(b.ratioToGemm)
            lines += [f, b]
            progress(f); progress(b)
        }
        func geomean(_ xs: [Double]) -> Double { Foundation.exp(xs.map { Foundation.log($0) }.reduce(0, +) / Double(xs.count)) }
        return Report(lines: lines, forwardGeometricMeanRatio: geomean(forwardRatios),
                      backwardGeometricMeanRatio: geomean(backwardRatios),
                      r3d18InferenceSecondsPerClip: r3dSeconds, r3d18InferencePeakBytes: peak,
                      r3d18InferencePeakIncreaseBytes: increase)
    }

    public static func records(_ r: Report) -> [BenchmarkRecord] {
        var out = r.lines.map {
            BenchmarkRecord(name: $0.name, threads: $0.threads, value: $0.gflops, unit: "GFLOP/s",
                            baseline: "gemm 1024x1024x1024", ratio: $0.ratioToGemm)
        }
        out.append(BenchmarkRecord(name: "conv3d forward geometric mean", threads: r.lines.first?.threads,
                                   value: r.forwardGeometricMeanRatio, unit: "ratio to gemm"))
        out.append(BenchmarkRecord(name: "conv3d backward geometric mean", threads: r.lines.first?.threads,
                                   value: r.backwardGeometricMeanRatio, unit: "ratio to gemm"))
        out.append(BenchmarkRecord(name: "r3d18 inference 3x16x112x112", threads: r.lines.first?.threads,
                                   value: r.r3d18InferenceSecondsPerClip, unit: "s/clip"))
        if let p = r.r3d18InferencePeakBytes {
            out.append(BenchmarkRecord(name: "r3d18 inference peak RSS", threads: nil, value: Double(p), unit: "bytes"))
        }
        return out
    }
}
