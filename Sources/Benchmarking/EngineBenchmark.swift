import Engine
import Foundation
import Models
import Store

/// The engine's speed as a roofline, measured in one run: its GEMM at 1024^3 (the compute roof)
/// and a 64 MB copy (the memory roof); conv3d forward and backward (data + weight gradients) at
/// every distinct convolution shape of R3D-18 on one 3x16x112x112 clip; the other op families of
/// the networks at MViT-B's and R3D-18's real shapes (linear layers, attention, depthwise and max
/// pooling of tokens, layer norm, GELU, softmax, batch norm with ReLU); and the peak memory of a
/// whole R3D-18 forward in inference mode. Each op's bytes are its compulsory traffic (inputs and
/// outputs once); the flops of memory-bound ops are nominal (the arithmetic per element of the
/// formula, `nominalFlopsPerElement`), so their GB/s against the copy is the figure to read.
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
        /// "baseline", "conv3d", "linear", "attention", "pooling", "normalisation", "elementwise".
        public var family: String
        public var gflops: Double
        public var ratioToGemm: Double
        /// Compulsory traffic over time.
        public var gbPerSecond: Double
        /// What the roofline allows: min(GEMM GFLOP/s, flops per byte x copy GB/s).
        public var rooflineGflops: Double
        /// gflops / rooflineGflops.
        public var ofRoofline: Double
        public var medianSeconds: Double
        public var threads: Int
    }

    /// Arithmetic per element of the memory-bound ops' formulas, for their nominal GFLOP/s.
    public static let nominalFlopsPerElement: [String: Double] = [
        "layer norm": 8, "gelu": 30, "softmax": 16, "batch norm + relu": 3, "max pool": 1,
    ]

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

        // The roofs: GEMM for compute, a copy for memory.
        let gemm = GemmBenchmark.shapes[0]
        let (gemmSeconds, _) = GemmBenchmark.time(gemm, minimumSeconds: minimumSeconds)
        let gemmGflops = gemm.flops / gemmSeconds / 1e9
        let copyBytes = 64 << 20
        let source = [Float](repeating: 1, count: copyBytes / 4)
        var target = [Float](repeating: 0, count: copyBytes / 4)
        let copySeconds = Timing.median(Timing.measure(minimumSeconds: minimumSeconds, minimumRepeats: 5) {
            source.withUnsafeBufferPointer { s in
                target.withUnsafeMutableBufferPointer { t in t.baseAddress!.update(from: s.baseAddress!, count: s.count) }
            }
        })
        let copyGBps = 2 * Double(copyBytes) / copySeconds / 1e9
        func line(_ name: String, _ family: String, flops: Double, bytes: Double, seconds: Double) -> Line {
            let (gflops, gbps) = (flops / seconds / 1e9, bytes / seconds / 1e9)
            let roof = min(gemmGflops, flops / max(bytes, 1) * copyGBps)
            // A line without flops (the copy) is placed against the memory roof alone.
            return Line(name: name, family: family, gflops: gflops, ratioToGemm: gflops / gemmGflops,
                        gbPerSecond: gbps, rooflineGflops: roof, ofRoofline: flops > 0 ? gflops / roof : gbps / copyGBps,
                        medianSeconds: seconds, threads: threads)
        }
        for l in [line("gemm 1024x1024x1024", "baseline", flops: gemm.flops, bytes: Double(3 * (4 << 20)), seconds: gemmSeconds),
                  line("copy 64 MB", "baseline", flops: 0, bytes: 2 * Double(copyBytes), seconds: copySeconds)] {
            lines.append(l)
            progress(l)
        }

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
            let (xb, wb, yb) = (4 * Double(x.count), 4 * Double(w.count), 4 * Double(y.count))
            let f = line("conv3d forward \(s.name)", "conv3d", flops: s.flops, bytes: xb + wb + yb, seconds: tf)
            let b = line("conv3d backward \(s.name)", "conv3d", flops: 2 * s.flops, bytes: 2 * xb + 2 * wb + yb, seconds: tb)
            forwardRatios.append(f.ratioToGemm); backwardRatios.append(b.ratioToGemm)
            lines += [f, b]
            progress(f); progress(b)
        }
        for l in otherOps(&g, minimumSeconds: minimumSeconds, line) {
            lines.append(l)
            progress(l)
        }
        func geomean(_ xs: [Double]) -> Double { Foundation.exp(xs.map { Foundation.log($0) }.reduce(0, +) / Double(xs.count)) }
        return Report(lines: lines, forwardGeometricMeanRatio: geomean(forwardRatios),
                      backwardGeometricMeanRatio: geomean(backwardRatios),
                      r3d18InferenceSecondsPerClip: r3dSeconds, r3d18InferencePeakBytes: peak,
                      r3d18InferencePeakIncreaseBytes: increase)
    }

    /// The networks' other op families, forward in inference mode, at MViT-B's first stage on
    /// 3x16x224x224 (8 x 56 x 56 = 25,088 tokens and the class token, 96 channels, 392 pooled keys)
    /// and R3D-18's first stage on 3x16x112x112.
    static func otherOps(_ g: inout SeededGenerator, minimumSeconds: Double,
                         _ line: (String, String, Double, Double, Double) -> Line) -> [Line] {
        func time(_ body: () -> Tensor) -> Double {
            Timing.median(Timing.measure(minimumSeconds: minimumSeconds, minimumRepeats: 3) {
                _ = Autograd.withoutGradients(body)
            })
        }
        func nominal(_ op: String, _ elements: Int) -> Double { nominalFlopsPerElement[op]! * Double(elements) }
        let tokens = 25_089, keys = 393, width = 96
        let x = Tensor(randomNormal: [1, tokens, width], generator: &g)
        let w = Tensor(randomNormal: [3 * width, width], std: 0.05, generator: &g), b = Tensor(zeros: [3 * width])
        let q = Tensor(randomNormal: [1, 1, tokens, width], generator: &g)
        let k = Tensor(randomNormal: [1, 1, keys, width], generator: &g), v = Tensor(randomNormal: [1, 1, keys, width], generator: &g)
        let grid = Tensor(randomNormal: [1, 8, 56, 56, width], generator: &g)
        let pool = Tensor(randomNormal: [width, 1, 3, 3, 3], std: 0.2, generator: &g)
        let hidden = Tensor(randomNormal: [1, tokens, 4 * width], generator: &g)
        let scores = Tensor(randomNormal: [1, 1, tokens, keys], generator: &g)
        let gamma = Tensor(randomNormal: [width], generator: &g), beta = Tensor(randomNormal: [width], generator: &g)
        let r3d = Tensor(randomNormal: [1, 64, 16, 56, 56], generator: &g)
        let mean = Tensor(randomNormal: [64], std: 0.1, generator: &g), variance = Tensor(shape: [64], data: [Float](repeating: 1, count: 64))
        let pooled = Double(8 * 28 * 28 * width)
        let (tokenValues, qkvValues) = (Double(tokens * width), Double(tokens * 3 * width))
        var lines: [Line] = []
        lines.append(line("linear 25089x96 -> 288 (MViT-B qkv)", "linear", 2 * tokenValues * Double(3 * width),
                          4 * (tokenValues + Double(w.count) + qkvValues), time { x.linear(weight: w, bias: b) }))
        lines.append(line("attention 25089 queries x 393 keys x 96", "attention", 4 * tokenValues * Double(keys),
                          4 * (2 * tokenValues + Double(2 * keys * width)),
                          time { scaledDotProductAttention(query: q, key: k, value: v) }))
        lines.append(line("depthwise pool 3x3x3 s1x2x2 8x56x56x96 (MViT-B Q)", "pooling", 2 * 27 * pooled,
                          4 * (Double(grid.count) + pooled + Double(pool.count)),
                          time { grid.depthwiseConv3dChannelsLast(weight: pool, stride: [1, 2, 2], padding: [1, 1, 1]) }))
        lines.append(line("max pool 1x3x3 s1x2x2 8x56x56x96 (MViT-B skip)", "pooling", nominal("max pool", 9 * 8 * 28 * 28 * width),
                          4 * (Double(grid.count) + pooled),
                          time { grid.maxPool3dChannelsLast(kernel: [1, 3, 3], stride: [1, 2, 2], padding: [0, 1, 1]) }))
        lines.append(line("layer norm 25089x96", "normalisation", nominal("layer norm", x.count), 8 * Double(x.count),
                          time { x.layerNorm(weight: gamma, bias: beta, eps: 1e-6) }))
        lines.append(line("batch norm + relu 64x16x56x56 (R3D-18)", "normalisation", nominal("batch norm + relu", r3d.count),
                          8 * Double(r3d.count),
                          time { r3d.batchNorm(weight: nil, bias: nil, runningMean: mean, runningVar: variance, training: false, relu: true) }))
        lines.append(line("gelu 25089x384", "elementwise", nominal("gelu", hidden.count), 8 * Double(hidden.count),
                          time { hidden.gelu() }))
        lines.append(line("softmax 25089x393", "elementwise", nominal("softmax", scores.count), 8 * Double(scores.count),
                          time { scores.softmax() }))
        return lines
    }

    public static func records(_ r: Report) -> [BenchmarkRecord] {
        var out = r.lines.map {
            $0.gflops > 0
                ? BenchmarkRecord(name: $0.name, threads: $0.threads, value: $0.gflops, unit: "GFLOP/s",
                                  baseline: "gemm 1024x1024x1024", ratio: $0.ratioToGemm)
                : BenchmarkRecord(name: $0.name, threads: $0.threads, value: $0.gbPerSecond, unit: "GB/s")
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
