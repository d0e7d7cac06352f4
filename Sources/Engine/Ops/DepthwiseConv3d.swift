// Depthwise 3D convolution (groups == channels == outputs) as direct loops.
//
// The GEMM lowering gives each channel its own one-row matrix product over 27 unfolded rows, so
// the unfolding costs more than the arithmetic; MViT's Q/K/V pooling is all depthwise. Here each
// channel is one task: forward and both gradients touch only that channel's slices, so the loops
// parallelise over channels with no shared writes (bit-identical for any thread count).

extension ConvPlan {
    var isDepthwise: Bool { groups == channels && outputs == channels }

    /// For every output row (t', h') and kernel tap (a, b, e) inside the input in T and H, calls
    /// `body(k, outputRow, inputOffset, ows)`: tap k touches input `inputOffset + ow * strideW` for
    /// output `outputRow + ow`, for the `ows` that fall inside the input in W. Taps outside are the
    /// zero padding and are skipped.
    @inline(__always)
    func forEachTapRow(_ body: (Int, Int, Int, Range<Int>) -> Void) {
        let (kT, kH, kW) = (window.kernel[0], window.kernel[1], window.kernel[2])
        let (sT, sH, sW) = (window.stride[0], window.stride[1], window.stride[2])
        let (dT, dH, dW) = (window.dilation[0], window.dilation[1], window.dilation[2])
        let (pT, pH, pW) = (window.padding.before[0], window.padding.before[1], window.padding.before[2])
        let (T, H, W) = (input[0], input[1], input[2])
        let (To, Ho, Wo) = (output[0], output[1], output[2])
        // In-bounds output columns per kernel column e: 0 <= ow * sW + e * dW - pW < W.
        let columns: [Range<Int>] = (0..<kW).map { e in
            let shift = e * dW - pW
            let lo = shift >= 0 ? 0 : (-shift + sW - 1) / sW
            let hi = W - 1 - shift < 0 ? 0 : min(Wo, (W - 1 - shift) / sW + 1)
            return lo..<max(lo, hi)
        }
        for ot in 0..<To { for oh in 0..<Ho {
            let outputRow = (ot * Ho + oh) * Wo
            for a in 0..<kT {
                let it = ot * sT - pT + a * dT
                guard it >= 0 && it < T else { continue }
                for b in 0..<kH {
                    let ih = oh * sH - pH + b * dH
                    guard ih >= 0 && ih < H else { continue }
                    let row = (it * H + ih) * W
                    for e in 0..<kW where !columns[e].isEmpty {
                        body((a * kH + b) * kW + e, outputRow, row + e * dW - pW, columns[e])
                    }
                }
            }
        } }
    }

    func depthwiseForward(_ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, batch: Int) {
        let (P, V) = (positions, inputVolume)
        Parallel.forEach(batch * channels, minimumChunk: 1) { range in
            for nc in range {
                let (xs, ys, ws) = (x + nc * V, y + nc * P, w + (nc % channels) * kvol)
                for i in 0..<P { ys[i] = 0 }
                let sW = window.stride[2]
                forEachTapRow { k, o, i, ows in
                    let wk = ws[k]
                    for ow in ows { ys[o + ow] += wk * xs[i + ow * sW] }
                }
            }
        }
    }

    func depthwiseBackwardData(_ gy: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ gx: UnsafeMutablePointer<Float>, batch: Int) {
        let (P, V) = (positions, inputVolume)
        Parallel.forEach(batch * channels, minimumChunk: 1) { range in
            for nc in range {
                let (gxs, gys, ws) = (gx + nc * V, gy + nc * P, w + (nc % channels) * kvol)
                let sW = window.stride[2]
                forEachTapRow { k, o, i, ows in
                    let wk = ws[k]
                    for ow in ows { gxs[i + ow * sW] += wk * gys[o + ow] }
                }
            }
        }
    }

    func depthwiseBackwardWeight(_ x: UnsafePointer<Float>, _ gy: UnsafePointer<Float>, _ gw: UnsafeMutablePointer<Float>, batch: Int) {
        let (P, V) = (positions, inputVolume)
        // Per channel, summed over the batch in order: the same sum whatever the thread count.
        Parallel.forEach(channels, minimumChunk: 1) { range in
            for c in range {
                let gws = gw + c * kvol
                for n in 0..<batch {
                    let (xs, gys) = (x + (n * channels + c) * V, gy + (n * channels + c) * P)
                    let sW = window.stride[2]
                    forEachTapRow { k, o, i, ows in
                        var acc: Float = 0
                        for ow in ows { acc += xs[i + ow * sW] * gys[o + ow] }
                        gws[k] += acc
                    }
                }
            }
        }
    }
}
