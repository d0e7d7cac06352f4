import Foundation

/// Padding of a 3D window op, per dimension (T, H, W), before and after: symmetric as PyTorch
/// pads, or TensorFlow's asymmetric "SAME" (I3D).
public struct Padding3D: Equatable, Sendable, CustomStringConvertible {
    public var before: [Int]
    public var after: [Int]

    public init(before: [Int], after: [Int]) {
        precondition(before.count == 3 && after.count == 3, "padding has 3 dimensions")
        self.before = before; self.after = after
    }

    public static let zero = Padding3D(before: [0, 0, 0], after: [0, 0, 0])

    public static func symmetric(_ p: [Int]) -> Padding3D { Padding3D(before: p, after: p) }

    /// TensorFlow's SAME: output = ceil(input / stride); the extra pixel of an odd total goes after.
    public static func same(input: [Int], kernel: [Int], stride: [Int], dilation: [Int] = [1, 1, 1]) -> Padding3D {
        var b = [0, 0, 0], a = [0, 0, 0]
        for d in 0..<3 {
            let out = (input[d] + stride[d] - 1) / stride[d]
            let effective = (kernel[d] - 1) * dilation[d] + 1
            let total = max((out - 1) * stride[d] + effective - input[d], 0)
            b[d] = total / 2
            a[d] = total - b[d]
        }
        return Padding3D(before: b, after: a)
    }

    public var description: String { before == after ? "\(before)" : "\(before)/\(after)" }
}

/// Shapes and index arithmetic of one 3D convolution or pooling window.
public struct Window3D: Equatable, Sendable {
    public var kernel: [Int]
    public var stride: [Int]
    public var padding: Padding3D
    public var dilation: [Int]

    public init(kernel: [Int], stride: [Int] = [1, 1, 1], padding: Padding3D = .zero, dilation: [Int] = [1, 1, 1]) {
        precondition(kernel.count == 3 && stride.count == 3 && dilation.count == 3, "3D windows")
        self.kernel = kernel; self.stride = stride; self.padding = padding; self.dilation = dilation
    }

    /// Output size along each of T, H, W for an input of `input` (T, H, W).
    public func outputSize(_ input: [Int]) -> [Int] {
        (0..<3).map { d in
            let span = input[d] + padding.before[d] + padding.after[d] - dilation[d] * (kernel[d] - 1) - 1
            precondition(span >= 0, "window \(kernel) (dilation \(dilation)) larger than padded input \(input)")
            return span / stride[d] + 1
        }
    }

    var isPointwise: Bool {
        kernel == [1, 1, 1] && stride == [1, 1, 1] && padding == .zero
    }
}

/// Bytes of unfolded input (vol2col) the convolution may hold at once; columns are processed in
/// chunks of output rows that fit.
public nonisolated(unsafe) var convolutionWorkspaceBytes: Int = {
    if let v = ProcessInfo.processInfo.environment["VIPBENCH_CONV_WORKSPACE"], let n = Int(v) { return n }
    return 32 << 20
}()

extension Tensor {
    /// 3D convolution, PyTorch's `conv3d`: input N x C x T x H x W, weight O x C/groups x kT x kH x kW,
    /// optional bias O. Output N x O x T' x H' x W'. Any stride, padding (symmetric or SAME),
    /// dilation and groups (groups == C is depthwise).
    ///
    /// Lowered to GEMM per sample and group: the input is unfolded (vol2col) in bounded chunks of
    /// output rows and multiplied by the weight matrix with `cblas_sgemm`. Depthwise convolutions
    /// (groups == channels == outputs) run as direct loops instead (DepthwiseConv3d.swift).
    public func conv3d(weight: Tensor, bias: Tensor? = nil, stride: [Int] = [1, 1, 1],
                       padding: Padding3D = .zero, dilation: [Int] = [1, 1, 1], groups: Int = 1) -> Tensor {
        precondition(rank == 5 && weight.rank == 5, "conv3d: input \(shape), weight \(weight.shape)")
        let (n, c) = (shape[0], shape[1])
        let o = weight.shape[0]
        precondition(c % groups == 0 && o % groups == 0 && weight.shape[1] == c / groups,
                     "conv3d: input channels \(c), weight \(weight.shape), groups \(groups) disagree")
        precondition(bias == nil || bias!.shape == [o], "conv3d: bias \(bias!.shape) for \(o) outputs")
        let window = Window3D(kernel: Array(weight.shape[2...]), stride: stride, padding: padding, dilation: dilation)
        let plan = ConvPlan(input: Array(shape[2...]), channels: c, outputs: o, groups: groups, window: window)
        // Uninitialised: every path of `plan.forward` writes all of it.
        var out = [Float](unsafeUninitializedCapacity: n * o * plan.positions) { _, count in count = n * o * plan.positions }
        data.withUnsafeBufferPointer { x in
            weight.data.withUnsafeBufferPointer { w in
                out.withUnsafeMutableBufferPointer { y in
                    plan.forward(x.baseAddress!, w.baseAddress!, y.baseAddress!, batch: n)
                }
            }
        }
        if let bias {
            let p = plan.positions
            out.withUnsafeMutableBufferPointer { y in
                for i in 0..<n { for ch in 0..<o {
                    let b = bias.data[ch], base = (i * o + ch) * p
                    for k in 0..<p { y[base + k] += b }
                } }
            }
        }
        let input = self
        var inputs = [self, weight]
        if let bias { inputs.append(bias) }
        return Autograd.record(Tensor(shape: [n, o] + plan.output, data: out), inputs: inputs) { r in
            let g = r.grad!
            g.withUnsafeBufferPointer { gp in
                // Uninitialised: `plan.backward` writes all of each.
                let gxCount = input.requiresGrad ? input.count : 0, gwCount = weight.requiresGrad ? weight.count : 0
                var gx = [Float](unsafeUninitializedCapacity: gxCount) { _, count in count = gxCount }
                var gw = [Float](unsafeUninitializedCapacity: gwCount) { _, count in count = gwCount }
                input.data.withUnsafeBufferPointer { x in
                    weight.data.withUnsafeBufferPointer { w in
                        gx.withUnsafeMutableBufferPointer { gxp in
                            gw.withUnsafeMutableBufferPointer { gwp in
                                plan.backward(x.baseAddress!, gp.baseAddress!, w.baseAddress!,
                                              gx: input.requiresGrad ? gxp.baseAddress! : nil,
                                              gw: weight.requiresGrad ? gwp.baseAddress! : nil, batch: n)
                            }
                        }
                    }
                }
                if input.requiresGrad { input.accumulateGrad(gx) }
                if weight.requiresGrad { weight.accumulateGrad(gw) }
                if let bias, bias.requiresGrad {
                    var gb = [Float](repeating: 0, count: o)
                    let p = plan.positions
                    for i in 0..<n { for ch in 0..<o {
                        var s: Float = 0
                        let base = (i * o + ch) * p
                        for k in 0..<p { s += gp[base + k] }
                        gb[ch] += s
                    } }
                    bias.accumulateGrad(gb)
                }
            }
        }
    }
}

/// The precomputed geometry of a convolution and its GEMM lowering.
struct ConvPlan {
    let input: [Int]          // T, H, W
    let output: [Int]         // T', H', W'
    let channels: Int, outputs: Int, groups: Int
    let window: Window3D
    let cg: Int, og: Int      // channels and outputs per group
    let kvol: Int             // kT * kH * kW
    let kc: Int               // rows of the unfolded matrix: cg * kvol
    let positions: Int        // T' * H' * W'
    let inputVolume: Int      // T * H * W
    let rowsPerChunk: Int     // output (t, h) rows per vol2col chunk

    init(input: [Int], channels: Int, outputs: Int, groups: Int, window: Window3D) {
        self.input = input; self.channels = channels; self.outputs = outputs; self.groups = groups
        self.window = window
        output = window.outputSize(input)
        cg = channels / groups; og = outputs / groups
        kvol = window.kernel.reduce(1, *)
        kc = cg * kvol
        positions = output.reduce(1, *)
        inputVolume = input.reduce(1, *)
        let rows = output[0] * output[1]
        let perRow = max(1, kc * output[2] * 4)
        rowsPerChunk = max(1, min(rows, convolutionWorkspaceBytes / perRow))
    }

    var outputRows: Int { output[0] * output[1] }

    /// Where one kernel tap (a, b, e) reads: its time offset, the input row and column of output
    /// (0, 0), the outputs oh in [rowsLo, rowsHi) and ow in [lo, hi) whose input is inside the
    /// volume, and whether it reads whole unstrided input rows (so a run of rows is one block).
    struct Tap {
        let t0: Int, ih0: Int, iw0: Int
        let rowsLo: Int, rowsHi: Int, lo: Int, hi: Int
        let wholeRows: Bool
    }

    func tap(_ kr: Int) -> Tap {
        let (kH, kW) = (window.kernel[1], window.kernel[2])
        let a = kr / (kH * kW), b = (kr % (kH * kW)) / kW, e = kr % kW
        let (sH, sW) = (window.stride[1], window.stride[2])
        let ih0 = -window.padding.before[1] + b * window.dilation[1]
        let iw0 = -window.padding.before[2] + e * window.dilation[2]
        let (H, W, Ho, Wo) = (input[1], input[2], output[1], output[2])
        let (rowsLo, rowsHi) = ConvPlan.inside(ih0, sH, H, Ho)
        let (lo, hi) = ConvPlan.inside(iw0, sW, W, Wo)
        return Tap(t0: -window.padding.before[0] + a * window.dilation[0], ih0: ih0, iw0: iw0,
                   rowsLo: rowsLo, rowsHi: rowsHi, lo: lo, hi: max(hi, lo),
                   wholeRows: sW == 1 && sH == 1 && lo == 0 && hi == Wo && W == Wo)
    }

    /// Unfolds output rows [r0, r1) of one sample and group into `col` (kc x (r1 - r0) * W').
    ///
    /// The scaled profiles' rows are 2-16 outputs wide, so per-output-row overhead decides the
    /// speed: the valid ranges of oh and ow for a tap are found once per tap, a run of rows in one
    /// output frame is handled together, and a tap that reads whole unstrided input rows (the
    /// centre column of a stride-1 same-padded kernel) copies the run as one block.
    func vol2col(_ x: UnsafePointer<Float>, _ col: UnsafeMutablePointer<Float>, rows r0: Int, _ r1: Int) {
        let (sT, sH, sW) = (window.stride[0], window.stride[1], window.stride[2])
        let (T, H, W) = (input[0], input[1], input[2])
        let (Ho, Wo) = (output[1], output[2])
        let width = (r1 - r0) * Wo
        let taps = (0..<kvol).map(tap)
        Parallel.forEach(kc, minimumChunk: max(1, 4096 / max(width, 1))) { rowRange in
            for row in rowRange {
                let tap = taps[row % kvol]
                let (ih0, iw0, ohLo, ohHi, lo, hi) = (tap.ih0, tap.iw0, tap.rowsLo, tap.rowsHi, tap.lo, tap.hi)
                let plane = x + (row / kvol) * T * H * W
                let dst = col + row * width
                var r = r0, k = 0
                while r < r1 {
                    let ot = r / Ho, first = r % Ho
                    let last = min(Ho, first + (r1 - r))
                    let n = last - first
                    let d = dst + k
                    let it = ot * sT + tap.t0
                    if it < 0 || it >= T || ohLo >= ohHi {
                        d.update(repeating: 0, count: n * Wo)
                    } else {
                        let vLo = min(max(first, ohLo), last), vHi = max(vLo, min(ohHi, last))
                        d.update(repeating: 0, count: (vLo - first) * Wo)
                        let frame = plane + it * H * W
                        if tap.wholeRows {
                            (d + (vLo - first) * Wo).update(from: frame + (vLo + ih0) * W, count: (vHi - vLo) * Wo)
                        } else {
                            for oh in vLo..<vHi {
                                let o = d + (oh - first) * Wo
                                let src = frame + (oh * sH + ih0) * W + iw0
                                for j in 0..<lo { o[j] = 0 }
                                if sW == 1 {
                                    for j in lo..<hi { o[j] = src[j] }
                                } else {
                                    for j in lo..<hi { o[j] = src[j * sW] }
                                }
                                for j in hi..<Wo { o[j] = 0 }
                            }
                        }
                        (d + (vHi - first) * Wo).update(repeating: 0, count: (last - vHi) * Wo)
                    }
                    k += n * Wo
                    r += n
                }
            }
        }
    }

    /// The outputs [lo, hi) of a row whose input column ow * stride + iw0 lies inside 0..<W.
    @inline(__always)
    static func inside(_ iw0: Int, _ stride: Int, _ W: Int, _ Wo: Int) -> (Int, Int) {
        let lo = iw0 >= 0 ? 0 : min(Wo, (-iw0 + stride - 1) / stride)
        let hi = W - 1 - iw0 < 0 ? 0 : min(Wo, (W - 1 - iw0) / stride + 1)
        return (lo, hi)
    }

    /// Scatters `col` back (adding) into the input gradient of one sample and group (the same
    /// per-tap ranges as `vol2col`).
    func col2vol(_ col: UnsafePointer<Float>, _ gx: UnsafeMutablePointer<Float>, rows r0: Int, _ r1: Int) {
        let (sT, sH, sW) = (window.stride[0], window.stride[1], window.stride[2])
        let (T, H, W) = (input[0], input[1], input[2])
        let (Ho, Wo) = (output[1], output[2])
        let width = (r1 - r0) * Wo
        let taps = (0..<kvol).map(tap)
        // One channel per task: all rows of a channel write only into that channel.
        Parallel.forEach(cg, minimumChunk: 1) { chRange in
            for ch in chRange {
                let plane = gx + ch * T * H * W
                for kr in 0..<kvol {
                    let tap = taps[kr]
                    let (ih0, iw0, ohLo, ohHi, lo, hi) = (tap.ih0, tap.iw0, tap.rowsLo, tap.rowsHi, tap.lo, tap.hi)
                    let src = col + (ch * kvol + kr) * width
                    var r = r0, k = 0
                    while r < r1 {
                        let ot = r / Ho, first = r % Ho
                        let last = min(Ho, first + (r1 - r))
                        let n = last - first
                        let it = ot * sT + tap.t0
                        if it >= 0 && it < T && ohLo < ohHi {
                            let vLo = min(max(first, ohLo), last), vHi = max(vLo, min(ohHi, last))
                            let frame = plane + it * H * W
                            let s = src + k
                            if tap.wholeRows {
                                let o = frame + (vLo + ih0) * W, i = s + (vLo - first) * Wo
                                for j in 0..<((vHi - vLo) * Wo) { o[j] += i[j] }
                            } else {
                                for oh in vLo..<vHi {
                                    let o = frame + (oh * sH + ih0) * W + iw0, i = s + (oh - first) * Wo
                                    if sW == 1 {
                                        for j in lo..<hi { o[j] += i[j] }
                                    } else {
                                        for j in lo..<hi { o[j * sW] += i[j] }
                                    }
                                }
                            }
                        }
                        k += n * Wo
                        r += n
                    }
                }
            }
        }
    }

    /// One chunk of output rows of one sample and group, with the workspace for its columns.
    struct Chunk {
        let col: UnsafeMutablePointer<Float>
        /// Offsets of the sample-and-group slices: input, output (at the chunk's first row), weight.
        let input: Int, output: Int, weight: Int
        let rows: Range<Int>
        /// Output positions in the chunk (its columns).
        let width: Int
    }

    /// Visits every chunk of every sample and group, in order, with one workspace (bounded by
    /// `convolutionWorkspaceBytes`) shared by all.
    func forEachChunk(batch: Int, _ body: (Chunk) -> Void) {
        let Wo = output[2]
        let buffer = UnsafeMutablePointer<Float>.allocate(capacity: max(kc * rowsPerChunk * Wo, 1))
        defer { buffer.deallocate() }
        for i in 0..<batch { for g in 0..<groups {
            var r0 = 0
            while r0 < outputRows {
                let r1 = min(outputRows, r0 + rowsPerChunk)
                body(Chunk(col: buffer, input: (i * channels + g * cg) * inputVolume,
                           output: (i * outputs + g * og) * positions + r0 * Wo, weight: g * og * kc,
                           rows: r0..<r1, width: (r1 - r0) * Wo))
                r0 = r1
            }
        } }
    }

    /// oneDNN's kernels for this convolution, when they are the backend and it is ungrouped.
    func oneDNN(batch: Int) -> OneDNNConvolution? {
        guard groups == 1 else { return nil }
        switch ConvolutionBackend.current {
        case .onednn: return OneDNNConvolution(self, batch: batch, bf16: false)
        case .onednnBF16: return OneDNNConvolution(self, batch: batch, bf16: ConvolutionBackend.hasBF16)
        case .gemm: return nil
        }
    }

    /// Writes every element of `y` (oneDNN overwrites it; the other paths start from zeros).
    func forward(_ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, batch: Int) {
        if !isDepthwise, let dnnl = oneDNN(batch: batch), dnnl.forward(x, w, y) { return }
        y.initialize(repeating: 0, count: batch * outputs * positions)
        if isDepthwise { return depthwiseForward(x, w, y, batch: batch) }
        let P = positions
        if window.isPointwise {
            for i in 0..<batch { for g in 0..<groups {
                BLAS.sgemm(m: og, n: P, k: cg, a: w + g * og * kc, b: x + (i * channels + g * cg) * inputVolume,
                           c: y + (i * outputs + g * og) * P)
            } }
            return
        }
        forEachChunk(batch: batch) { c in
            vol2col(x + c.input, c.col, rows: c.rows.lowerBound, c.rows.upperBound)
            BLAS.sgemm(m: og, n: c.width, k: kc, a: w + c.weight, b: c.col, ldb: c.width, c: y + c.output, ldc: P)
        }
    }

    /// The input's and the weight's gradients (either may be nil, each overwritten, not added to):
    /// one oneDNN call for both where oneDNN runs, else the engine's own passes.
    func backward(_ x: UnsafePointer<Float>, _ gy: UnsafePointer<Float>, _ w: UnsafePointer<Float>,
                  gx: UnsafeMutablePointer<Float>?, gw: UnsafeMutablePointer<Float>?, batch: Int) {
        if !isDepthwise, let dnnl = oneDNN(batch: batch), dnnl.backward(x, gy, w, gx, gw) { return }
        if let gx { backwardData(gy, w, gx, batch: batch) }
        if let gw { backwardWeight(x, gy, gw, batch: batch) }
    }

    /// The engine's own input gradient; writes every element of `gx` (its paths add into zeros).
    func backwardData(_ gy: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ gx: UnsafeMutablePointer<Float>, batch: Int) {
        gx.initialize(repeating: 0, count: batch * channels * inputVolume)
        if isDepthwise { return depthwiseBackwardData(gy, w, gx, batch: batch) }
        let P = positions
        if window.isPointwise {
            for i in 0..<batch { for g in 0..<groups {
                BLAS.sgemm(transA: true, m: cg, n: P, k: og, a: w + g * og * kc, lda: kc,
                           b: gy + (i * outputs + g * og) * P, beta: 1, c: gx + (i * channels + g * cg) * inputVolume)
            } }
            return
        }
        forEachChunk(batch: batch) { c in
            BLAS.sgemm(transA: true, m: kc, n: c.width, k: og, a: w + c.weight, lda: kc,
                       b: gy + c.output, ldb: P, c: c.col, ldc: c.width)
            col2vol(c.col, gx + c.input, rows: c.rows.lowerBound, c.rows.upperBound)
        }
    }

    /// The engine's own weight gradient; writes every element of `gw` (its paths add into zeros).
    func backwardWeight(_ x: UnsafePointer<Float>, _ gy: UnsafePointer<Float>, _ gw: UnsafeMutablePointer<Float>, batch: Int) {
        gw.initialize(repeating: 0, count: outputs * kc)
        if isDepthwise { return depthwiseBackwardWeight(x, gy, gw, batch: batch) }
        let P = positions
        if window.isPointwise {
            for i in 0..<batch { for g in 0..<groups {
                BLAS.sgemm(transB: true, m: og, n: cg, k: P, a: gy + (i * outputs + g * og) * P,
                           b: x + (i * channels + g * cg) * inputVolume, beta: 1, c: gw + g * og * kc)
            } }
            return
        }
        forEachChunk(batch: batch) { c in
            vol2col(x + c.input, c.col, rows: c.rows.lowerBound, c.rows.upperBound)
            BLAS.sgemm(transB: true, m: og, n: kc, k: c.width, a: gy + c.output, lda: P,
                       b: c.col, ldb: c.width, beta: 1, c: gw + c.weight, ldc: kc)
        }
    }
}
