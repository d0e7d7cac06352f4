// 3D pooling over N x C x T x H x W.

extension Tensor {
    /// Max pooling; padded positions never win (PyTorch pads with -inf; TF SAME likewise).
    /// Ties go to the first position in the window (row-major over T, H, W).
    public func maxPool3d(kernel: [Int], stride: [Int]? = nil, padding: Padding3D = .zero) -> Tensor {
        precondition(rank == 5, "maxPool3d: input \(shape)")
        let window = Window3D(kernel: kernel, stride: stride ?? kernel, padding: padding)
        let inSize = Array(shape[2...]), outSize = window.outputSize(inSize)
        let planes = shape[0] * shape[1]
        let (T, H, W) = (inSize[0], inSize[1], inSize[2])
        let (To, Ho, Wo) = (outSize[0], outSize[1], outSize[2])
        let inVol = T * H * W, outVol = To * Ho * Wo
        var out = uninitializedFloats(planes * outVol)
        var argmax = [Int32](repeating: -1, count: planes * outVol)
        data.withUnsafeBufferPointer { xp in
            out.withUnsafeMutableBufferPointer { yp in
                argmax.withUnsafeMutableBufferPointer { ap in
                    let (x, y, am) = (xp.baseAddress!, yp.baseAddress!, ap.baseAddress!)
                    Parallel.forEach(planes, minimumChunk: max(1, 8192 / max(outVol, 1))) { range in
                        for p in range {
                            let src = x + p * inVol
                            for ot in 0..<To { for oh in 0..<Ho { for ow in 0..<Wo {
                                var best = -Float.infinity, bestIndex: Int32 = -1
                                for a in 0..<kernel[0] {
                                    let it = ot * window.stride[0] - padding.before[0] + a
                                    if it < 0 || it >= T { continue }
                                    for b in 0..<kernel[1] {
                                        let ih = oh * window.stride[1] - padding.before[1] + b
                                        if ih < 0 || ih >= H { continue }
                                        for e in 0..<kernel[2] {
                                            let iw = ow * window.stride[2] - padding.before[2] + e
                                            if iw < 0 || iw >= W { continue }
                                            let idx = (it * H + ih) * W + iw
                                            let v = src[idx]
                                            if v > best || bestIndex < 0 { best = v; bestIndex = Int32(idx) }
                                        }
                                    }
                                }
                                let o = p * outVol + (ot * Ho + oh) * Wo + ow
                                y[o] = best
                                am[o] = bestIndex
                            } } }
                        }
                    }
                }
            }
        }
        let input = self
        return Autograd.record(Tensor(shape: Array(shape[0..<2]) + outSize, data: out), inputs: [self]) { r in
            let g = r.grad!
            var gx = [Float](repeating: 0, count: input.count)
            for p in 0..<planes {
                for k in 0..<outVol {
                    let a = argmax[p * outVol + k]
                    if a >= 0 { gx[p * inVol + Int(a)] += g[p * outVol + k] }
                }
            }
            input.accumulateGrad(gx)
        }
    }

    /// Average pooling. `countIncludePad` (PyTorch's default true) divides by the whole window;
    /// false divides by the positions inside the input (TF SAME's behaviour).
    public func avgPool3d(kernel: [Int], stride: [Int]? = nil, padding: Padding3D = .zero,
                          countIncludePad: Bool = true) -> Tensor {
        precondition(rank == 5, "avgPool3d: input \(shape)")
        let window = Window3D(kernel: kernel, stride: stride ?? kernel, padding: padding)
        let inSize = Array(shape[2...]), outSize = window.outputSize(inSize)
        let planes = shape[0] * shape[1]
        let (T, H, W) = (inSize[0], inSize[1], inSize[2])
        let (To, Ho, Wo) = (outSize[0], outSize[1], outSize[2])
        let inVol = T * H * W, outVol = To * Ho * Wo
        // The window of each output position, clipped to the input, and its divisor.
        struct Cell { var t: Range<Int>; var h: Range<Int>; var w: Range<Int>; var scale: Float }
        var cells: [Cell] = []
        cells.reserveCapacity(outVol)
        for ot in 0..<To { for oh in 0..<Ho { for ow in 0..<Wo {
            func span(_ o: Int, _ d: Int, _ n: Int) -> (Range<Int>, Int) {
                let start = o * window.stride[d] - padding.before[d]
                let end = min(start + kernel[d], n + padding.after[d])
                let full = end - start
                return (max(start, 0)..<min(end, n), full)
            }
            let (t, ft) = span(ot, 0, T), (h, fh) = span(oh, 1, H), (w, fw) = span(ow, 2, W)
            let n = countIncludePad ? ft * fh * fw : t.count * h.count * w.count
            cells.append(Cell(t: t, h: h, w: w, scale: 1 / Float(max(n, 1))))
        } } }
        var out = [Float](repeating: 0, count: planes * outVol)
        data.withUnsafeBufferPointer { xp in
            out.withUnsafeMutableBufferPointer { yp in
                let (x, y) = (xp.baseAddress!, yp.baseAddress!)
                Parallel.forEach(planes, minimumChunk: max(1, 8192 / max(outVol, 1))) { range in
                    for p in range {
                        let src = x + p * inVol
                        for (k, c) in cells.enumerated() {
                            var s: Float = 0
                            for it in c.t { for ih in c.h { for iw in c.w { s += src[(it * H + ih) * W + iw] } } }
                            y[p * outVol + k] = s * c.scale
                        }
                    }
                }
            }
        }
        let input = self
        return Autograd.record(Tensor(shape: Array(shape[0..<2]) + outSize, data: out), inputs: [self]) { r in
            let g = r.grad!
            var gx = [Float](repeating: 0, count: input.count)
            gx.withUnsafeMutableBufferPointer { gxp in
                let gxb = gxp.baseAddress!
                Parallel.forEach(planes, minimumChunk: 1) { range in
                    for p in range {
                        let dst = gxb + p * inVol
                        for (k, c) in cells.enumerated() {
                            let v = g[p * outVol + k] * c.scale
                            for it in c.t { for ih in c.h { for iw in c.w { dst[(it * H + ih) * W + iw] += v } } }
                        }
                    }
                }
            }
            input.accumulateGrad(gx)
        }
    }

    /// Adaptive average pooling to `size` (T, H, W), PyTorch's bins: start = floor(i * in / out),
    /// end = ceil((i + 1) * in / out). A nil entry keeps that dimension (spatial-only pooling keeps
    /// time: `adaptiveAvgPool3d([nil, 1, 1])`, as TCLR needs).
    public func adaptiveAvgPool3d(_ size: [Int?]) -> Tensor {
        precondition(rank == 5 && size.count == 3, "adaptiveAvgPool3d: input \(shape), size \(size)")
        let inSize = Array(shape[2...])
        let outSize = (0..<3).map { size[$0] ?? inSize[$0] }
        func bins(_ n: Int, _ m: Int) -> [Range<Int>] {
            (0..<m).map { i in (i * n / m)..<(((i + 1) * n + m - 1) / m) }
        }
        let (bt, bh, bw) = (bins(inSize[0], outSize[0]), bins(inSize[1], outSize[1]), bins(inSize[2], outSize[2]))
        let planes = shape[0] * shape[1]
        let (H, W) = (inSize[1], inSize[2])
        let inVol = inSize.reduce(1, *), outVol = outSize.reduce(1, *)
        var out = [Float](repeating: 0, count: planes * outVol)
        data.withUnsafeBufferPointer { xp in
            out.withUnsafeMutableBufferPointer { yp in
                let (x, y) = (xp.baseAddress!, yp.baseAddress!)
                Parallel.forEach(planes, minimumChunk: 1) { range in
                    for p in range {
                        let src = x + p * inVol
                        var k = 0
                        for t in bt { for h in bh { for w in bw {
                            var s: Float = 0
                            for it in t { for ih in h { for iw in w { s += src[(it * H + ih) * W + iw] } } }
                            y[p * outVol + k] = s / Float(t.count * h.count * w.count)
                            k += 1
                        } } }
                    }
                }
            }
        }
        let input = self
        return Autograd.record(Tensor(shape: Array(shape[0..<2]) + outSize, data: out), inputs: [self]) { r in
            let g = r.grad!
            var gx = [Float](repeating: 0, count: input.count)
            for p in 0..<planes {
                var k = 0
                for t in bt { for h in bh { for w in bw {
                    let v = g[p * outVol + k] / Float(t.count * h.count * w.count)
                    for it in t { for ih in h { for iw in w { gx[p * inVol + (it * H + ih) * W + iw] += v } } }
                    k += 1
                } } }
            }
            input.accumulateGrad(gx)
        }
    }
}
