// Batch normalisation and layer normalisation.

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
    public func batchNorm(weight: Tensor?, bias: Tensor?, runningMean: Tensor, runningVar: Tensor,
                          training: Bool, momentum: Float = 0.1, eps: Float = 1e-5, collective: Collective? = nil) -> Tensor {
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
                for ch in 0..<c {
                    var s = 0.0
                    for i in 0..<n { let base = (i * c + ch) * inner; for k in 0..<inner { s += Double(xb[base + k]) } }
                    sums[ch] = s
                }
                sums[c] = Double(n * inner)
                sync.allSum(&sums)
                let total = sums[c]
                m = Int(total)
                var squares = [Double](repeating: 0, count: c)
                for ch in 0..<c {
                    let mu = sums[ch] / total
                    var v = 0.0
                    for i in 0..<n { let base = (i * c + ch) * inner; for k in 0..<inner { let d = Double(xb[base + k]) - mu; v += d * d } }
                    squares[ch] = v
                }
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
                                var s = 0.0
                                for i in 0..<n { let base = (i * c + ch) * inner; for k in 0..<inner { s += Double(xb[base + k]) } }
                                let mu = s / Double(m)
                                var v = 0.0
                                for i in 0..<n { let base = (i * c + ch) * inner; for k in 0..<inner { let d = Double(xb[base + k]) - mu; v += d * d } }
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
                for ch in 0..<c { invStd[ch] = 1 / (runningVar.data[ch] + eps).squareRoot() }
            }
        }
        let gamma = weight?.data ?? [Float](repeating: 1, count: c)
        let beta = bias?.data ?? [Float](repeating: 0, count: c)
        var out = [Float](repeating: 0, count: count)
        // The normalised input is not kept for the backward pass: it is recomputed there from the
        // input, which the graph keeps anyway (one activation-sized buffer less per batch norm; the
        // same Float operations, so the same values).
        data.withUnsafeBufferPointer { xp in
            out.withUnsafeMutableBufferPointer { yp in
                let (x, y) = (xp.baseAddress!, yp.baseAddress!)
                Parallel.forEach(n * c, minimumChunk: max(1, 16384 / max(inner, 1))) { range in
                    for plane in range {
                        let ch = plane % c, base = plane * inner
                        let (mu, s, g, b) = (mean[ch], invStd[ch], gamma[ch], beta[ch])
                        for k in 0..<inner { y[base + k] = (x[base + k] - mu) * s * g + b }
                    }
                }
            }
        }
        let input = self
        var inputs = [self]
        if let weight { inputs.append(weight) }
        if let bias { inputs.append(bias) }
        return Autograd.record(Tensor(shape: shape, data: out), inputs: inputs) { r in
            let g = r.grad!, x = input.data
            var sumG = [Float](repeating: 0, count: c), sumGX = [Float](repeating: 0, count: c)
            for ch in 0..<c {
                var a = 0.0, b = 0.0
                let (mu, s) = (mean[ch], invStd[ch])
                for i in 0..<n {
                    let base = (i * c + ch) * inner
                    for k in 0..<inner { a += Double(g[base + k]); b += Double(g[base + k] * ((x[base + k] - mu) * s)) }
                }
                sumG[ch] = Float(a); sumGX[ch] = Float(b)
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
                var gx = [Float](repeating: 0, count: input.count)
                for plane in 0..<(n * c) {
                    let ch = plane % c, base = plane * inner
                    let k1 = gamma[ch] * invStd[ch]
                    if training {
                        let (mg, mgx, mu, s) = (sumG[ch] / Float(m), sumGX[ch] / Float(m), mean[ch], invStd[ch])
                        for k in 0..<inner { gx[base + k] = k1 * (g[base + k] - mg - ((x[base + k] - mu) * s) * mgx) }
                    } else {
                        for k in 0..<inner { gx[base + k] = k1 * g[base + k] }
                    }
                }
                input.accumulateGrad(gx)
            }
        }
    }

    /// Layer normalisation over the last dimension, with optional affine weight and bias.
    public func layerNorm(weight: Tensor?, bias: Tensor?, eps: Float = 1e-5) -> Tensor {
        let d = shape[rank - 1], rows = count / max(d, 1)
        var out = uninitializedFloats(count), xhat = uninitializedFloats(count)
        var invStd = uninitializedFloats(rows)
        let gamma = weight?.data ?? [Float](repeating: 1, count: d)
        let beta = bias?.data ?? [Float](repeating: 0, count: d)
        data.withUnsafeBufferPointer { xp in
            out.withUnsafeMutableBufferPointer { yp in
                xhat.withUnsafeMutableBufferPointer { hp in
                    invStd.withUnsafeMutableBufferPointer { sp in
                        let (x, y, h, s) = (xp.baseAddress!, yp.baseAddress!, hp.baseAddress!, sp.baseAddress!)
                        Parallel.forEach(rows, minimumChunk: max(1, 8192 / max(d, 1))) { range in
                            for r in range {
                                let base = r * d
                                var mu: Float = 0
                                for k in 0..<d { mu += x[base + k] }
                                mu /= Float(d)
                                var v: Float = 0
                                for k in 0..<d { let t = x[base + k] - mu; v += t * t }
                                let inv = 1 / (v / Float(d) + eps).squareRoot()
                                s[r] = inv
                                for k in 0..<d {
                                    let z = (x[base + k] - mu) * inv
                                    h[base + k] = z
                                    y[base + k] = z * gamma[k] + beta[k]
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
                var gx = [Float](repeating: 0, count: input.count)
                for row in 0..<rows {
                    let base = row * d
                    var a: Float = 0, b: Float = 0
                    for k in 0..<d { let gh = g[base + k] * gamma[k]; a += gh; b += gh * xhat[base + k] }
                    a /= Float(d); b /= Float(d)
                    for k in 0..<d { gx[base + k] = invStd[row] * (g[base + k] * gamma[k] - a - xhat[base + k] * b) }
                }
                input.accumulateGrad(gx)
            }
        }
    }
}
