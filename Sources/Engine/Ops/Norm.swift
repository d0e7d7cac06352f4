// Batch normalisation and layer normalisation.
import CVectorMath

extension Tensor {
    /// Batch normalisation over dimension 1 (N x C x ...), PyTorch's semantics.
    ///
    /// In training the batch's mean and biased variance normalise the input, and the running
    /// statistics are updated in place: running = (1 - momentum) running + momentum batch, with the
    /// unbiased variance. In evaluation the running statistics are used.
    ///
    /// With `collective` (synchronised batch norm, training only), the statistics are those of the
    /// batch of every process together, and so are the sums the input's gradient needs: N processes
    /// with a batch of B each normalise as one process with N x B would. The weight's and bias's
    /// gradients stay local (the data-parallel gradient sum adds them).
    ///
    /// With `relu`, the result is max(batch norm, 0), in the same pass (the gradient is zero where
    /// the output is).
    public func batchNorm(weight: Tensor?, bias: Tensor?, runningMean: Tensor, runningVar: Tensor,
                          training: Bool, momentum: Float = 0.1, eps: Float = 1e-5, collective: Collective? = nil,
                          relu: Bool = false) -> Tensor {
        precondition(rank >= 2, "batchNorm: input \(shape)")
        let n = shape[0], c = shape[1]
        let inner = shape.dropFirst(2).reduce(1, *)
        let sync = training && (collective?.size ?? 1) > 1 ? collective : nil
        var m = n * inner     // the whole batch's count per channel (every process's, when synchronised)
        var mean = [Float](repeating: 0, count: c), invStd = [Float](repeating: 0, count: c)
        data.withUnsafeBufferPointer { x in
            if let sync {
                // Two passes, as below: the global mean first, then the centred squares about it.
                let xb = x.baseAddress!
                var sums = [Double](repeating: 0, count: c + 1)
                for ch in 0..<c { sums[ch] = vip_bn_channel_sum(xb + ch * inner, n, c * inner, inner) }
                sums[c] = Double(n * inner)
                sync.allSum(&sums)
                let total = sums[c]
                m = Int(total)
                var squares = [Double](repeating: 0, count: c)
                for ch in 0..<c { squares[ch] = vip_bn_channel_squares(xb + ch * inner, n, c * inner, inner, sums[ch] / total) }
                sync.allSum(&squares)
                for ch in 0..<c {
                    mean[ch] = Float(sums[ch] / total)
                    let variance = Float(squares[ch] / total)
                    invStd[ch] = 1 / (variance + eps).squareRoot()
                    let unbiased = total > 1 ? Float(squares[ch] / (total - 1)) : variance
                    runningMean.data[ch] = (1 - momentum) * runningMean.data[ch] + momentum * mean[ch]
                    runningVar.data[ch] = (1 - momentum) * runningVar.data[ch] + momentum * unbiased
                }
            } else if training {
                var variance = [Float](repeating: 0, count: c)
                mean.withUnsafeMutableBufferPointer { mp in
                    variance.withUnsafeMutableBufferPointer { vp in
                        let (mb, vb, xb) = (mp.baseAddress!, vp.baseAddress!, x.baseAddress!)
                        Parallel.forEach(c, minimumChunk: 1) { range in
                            for ch in range {
                                // Sums in Double lanes in a fixed order (CVectorMath), the same at
                                // any thread count and vector width.
                                let mu = vip_bn_channel_sum(xb + ch * inner, n, c * inner, inner) / Double(m)
                                let v = vip_bn_channel_squares(xb + ch * inner, n, c * inner, inner, mu)
                                mb[ch] = Float(mu)
                                vb[ch] = Float(v / Double(m))
                            }
                        }
                    }
                }
                for ch in 0..<c {
                    invStd[ch] = 1 / (variance[ch] + eps).squareRoot()
                    let unbiased = m > 1 ? variance[ch] * Float(m) / Float(m - 1) : variance[ch]
                    runningMean.data[ch] = (1 - momentum) * runningMean.data[ch] + momentum * mean[ch]
                    runningVar.data[ch] = (1 - momentum) * runningVar.data[ch] + momentum * unbiased
                }
            } else {
                mean = runningMean.data
                invStd = Tensor.inverseStandardDeviations(runningVar.data, eps: eps)
            }
        }
        let gamma = weight?.data ?? [Float](repeating: 1, count: c)
        let beta = bias?.data ?? [Float](repeating: 0, count: c)
        var out = uninitializedFloats(count)
        // The normalised input is not kept for the backward pass: it is recomputed there from the
        // input, which the graph keeps anyway (one activation-sized buffer less per batch norm; the
        // same Float operations, so the same values).
        data.withUnsafeBufferPointer { xp in
            out.withUnsafeMutableBufferPointer { yp in
                let (x, y) = (xp.baseAddress!, yp.baseAddress!)
                Parallel.forEach(n * c, minimumChunk: max(1, 16384 / max(inner, 1))) { range in
                    for plane in range {
                        let ch = plane % c, base = plane * inner
                        vip_bn_apply(x + base, y + base, inner, mean[ch], invStd[ch], gamma[ch], beta[ch], relu ? 1 : 0)
                    }
                }
            }
        }
        let input = self
        var inputs = [self]
        if let weight { inputs.append(weight) }
        if let bias { inputs.append(bias) }
        return Autograd.record(Tensor(shape: shape, data: out), inputs: inputs) { r in
            let x = input.data, g = r.grad!
            // With the ReLU, its gradient (zero where it cut the output) is applied as each pass
            // reads the output gradient: no masked copy of it.
            let y = relu ? r.data : []
            y.withUnsafeBufferPointer { yBuffer in
                let yy = relu ? yBuffer.baseAddress : nil
                var sumG = [Float](repeating: 0, count: c), sumGX = [Float](repeating: 0, count: c)
                g.withUnsafeBufferPointer { gp in
                    x.withUnsafeBufferPointer { xp in
                        sumG.withUnsafeMutableBufferPointer { ap in
                            sumGX.withUnsafeMutableBufferPointer { bp in
                                let (gg, xx, sa, sb) = (gp.baseAddress!, xp.baseAddress!, ap.baseAddress!, bp.baseAddress!)
                                // Per channel, planes in order, four Double lanes each: the same sums
                                // at any thread count.
                                Parallel.forEach(c, minimumChunk: 1) { range in
                                    for ch in range {
                                        var a = 0.0, b = 0.0
                                        let o = ch * inner
                                        vip_bn_gradient_sums(gg + o, xx + o, yy.map { $0 + o }, n, c * inner, inner, mean[ch], invStd[ch], &a, &b)
                                        sa[ch] = Float(a); sb[ch] = Float(b)
                                    }
                                }
                            }
                        }
                    }
                }
                if let weight, weight.requiresGrad { weight.accumulateGrad(sumGX) }
                if let bias, bias.requiresGrad { bias.accumulateGrad(sumG) }
                if let sync, input.requiresGrad {
                    // The input's gradient needs the sums over the whole (all processes') batch.
                    var both = (sumG + sumGX).map(Double.init)
                    sync.allSum(&both)
                    sumG = both[0..<c].map { Float($0) }; sumGX = both[c...].map { Float($0) }
                }
                if input.requiresGrad {
                    var gx = uninitializedFloats(input.count)
                    g.withUnsafeBufferPointer { gp in
                        x.withUnsafeBufferPointer { xp in
                            gx.withUnsafeMutableBufferPointer { dp in
                                let (gg, xx, dx) = (gp.baseAddress!, xp.baseAddress!, dp.baseAddress!)
                                Parallel.forEach(n * c, minimumChunk: max(1, 16384 / max(inner, 1))) { range in
                                    for plane in range {
                                        let ch = plane % c, base = plane * inner
                                        let k1 = gamma[ch] * invStd[ch]
                                        // Pointers moved to the plane: indices without overflow checks vectorise.
                                        let (gi, xi, di) = (gg + base, xx + base, dx + base)
                                        if training {
                                            vip_bn_input_gradient(gi, xi, yy.map { $0 + base }, di, inner, k1, sumG[ch] / Float(m),
                                                                  sumGX[ch] / Float(m), mean[ch], invStd[ch])
                                        } else if let yy {
                                            let yi = yy + base
                                            for k in 0..<inner { di[k] = k1 * (yi[k] > 0 ? gi[k] : 0) }
                                        } else {
                                            for k in 0..<inner { di[k] = k1 * gi[k] }
                                        }
                                    }
                                }
                            }
                        }
                    }
                    input.accumulateGrad(gx)
                }
            }
        }
    }

    /// Evaluation batch norm's 1 / sqrt(variance + eps) per channel, in Float.
    static func inverseStandardDeviations(_ variance: [Float], eps: Float) -> [Float] {
        variance.map { 1 / ($0 + eps).squareRoot() }
    }

    /// Layer normalisation over the last dimension, with optional affine weight and bias.
    public func layerNorm(weight: Tensor?, bias: Tensor?, eps: Float = 1e-5) -> Tensor {
        let d = shape[rank - 1], rows = count / max(d, 1)
        // x-hat is kept only for a backward pass.
        let keep = Autograd.isRecording && (requiresGrad || weight?.requiresGrad == true || bias?.requiresGrad == true)
        var out = uninitializedFloats(count), xhat = keep ? uninitializedFloats(count) : []
        var invStd = uninitializedFloats(rows)
        let gamma = weight?.data ?? [Float](repeating: 1, count: d)
        let beta = bias?.data ?? [Float](repeating: 0, count: d)
        data.withUnsafeBufferPointer { xp in
            out.withUnsafeMutableBufferPointer { yp in
                xhat.withUnsafeMutableBufferPointer { hp in
                    invStd.withUnsafeMutableBufferPointer { sp in
                        gamma.withUnsafeBufferPointer { gp in
                            beta.withUnsafeBufferPointer { bp in
                                let (x, y, h, s) = (xp.baseAddress!, yp.baseAddress!, keep ? hp.baseAddress : nil, sp.baseAddress!)
                                let (gm, bt) = (gp.baseAddress!, bp.baseAddress!)
                                Parallel.forEach(rows, minimumChunk: max(1, 8192 / max(d, 1))) { range in
                                    for r in range {
                                        let (xr, yr) = (x + r * d, y + r * d)
                                        let mu = laneSum(xr, d) / Float(d)
                                        let inv = 1 / (laneSumOfSquares(xr, d, minus: mu) / Float(d) + eps).squareRoot()
                                        s[r] = inv
                                        if let h {
                                            let hr = h + r * d
                                            for k in 0..<d { hr[k] = (xr[k] - mu) * inv }
                                        }
                                        for k in 0..<d { yr[k] = (xr[k] - mu) * inv * gm[k] + bt[k] }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        let input = self
        var inputs = [self]
        if let weight { inputs.append(weight) }
        if let bias { inputs.append(bias) }
        return Autograd.record(Tensor(shape: shape, data: out), inputs: inputs) { r in
            let g = r.grad!
            if let weight, weight.requiresGrad {
                var gw = [Float](repeating: 0, count: d)
                for row in 0..<rows { for k in 0..<d { gw[k] += g[row * d + k] * xhat[row * d + k] } }
                weight.accumulateGrad(gw)
            }
            if let bias, bias.requiresGrad {
                var gb = [Float](repeating: 0, count: d)
                for row in 0..<rows { for k in 0..<d { gb[k] += g[row * d + k] } }
                bias.accumulateGrad(gb)
            }
            if input.requiresGrad {
                var gx = uninitializedFloats(input.count)
                g.withUnsafeBufferPointer { gp in
                    xhat.withUnsafeBufferPointer { hp in
                        gamma.withUnsafeBufferPointer { wp in
                            gx.withUnsafeMutableBufferPointer { dp in
                                let (gg, h, gm, dx) = (gp.baseAddress!, hp.baseAddress!, wp.baseAddress!, dp.baseAddress!)
                                // Rows are independent: the same result at any thread count.
                                Parallel.forEach(rows, minimumChunk: max(1, 8192 / max(d, 1))) { range in
                                    for row in range {
                                        let base = row * d
                                        var a: Float = 0, b: Float = 0
                                        for k in 0..<d { let gh = gg[base + k] * gm[k]; a += gh; b += gh * h[base + k] }
                                        a /= Float(d); b /= Float(d)
                                        for k in 0..<d { dx[base + k] = invStd[row] * (gg[base + k] * gm[k] - a - h[base + k] * b) }
                                    }
                                }
                            }
                        }
                    }
                }
                input.accumulateGrad(gx)
            }
        }
    }
}
