// Matrix products through `BLAS.sgemm` (oneDNN's kernels).

extension Tensor {
    /// Batched matrix product over the last two dimensions: [..., M, K] x [..., K, N] -> [..., M, N].
    /// The leading (batch) dimensions must be equal, or `other` may be a plain [K, N] matrix shared
    /// by every batch.
    public func matmul(_ other: Tensor) -> Tensor {
        precondition(rank >= 2 && other.rank >= 2, "matmul needs matrices, got \(shape) and \(other.shape)")
        let m = shape[rank - 2], k = shape[rank - 1]
        let k2 = other.shape[other.rank - 2], n = other.shape[other.rank - 1]
        precondition(k == k2, "matmul: \(shape) x \(other.shape): inner sizes differ")
        let batchShape = Array(shape.dropLast(2))
        let shared = other.rank == 2
        precondition(shared || Array(other.shape.dropLast(2)) == batchShape,
                     "matmul: batch dimensions of \(shape) and \(other.shape) differ")
        let batch = batchShape.reduce(1, *)
        var out = uninitializedFloats(batch * m * n)  // sgemm with beta 0 writes all of it
        data.withUnsafeBufferPointer { a in
            other.data.withUnsafeBufferPointer { b in
                out.withUnsafeMutableBufferPointer { c in
                    if shared {
                        // One GEMM for all batches: [batch*M, K] x [K, N].
                        BLAS.sgemm(m: batch * m, n: n, k: k, a: a.baseAddress!, b: b.baseAddress!, c: c.baseAddress!)
                    } else {
                        for i in 0..<batch {
                            BLAS.sgemm(m: m, n: n, k: k, a: a.baseAddress! + i * m * k, b: b.baseAddress! + i * k * n,
                                       c: c.baseAddress! + i * m * n)
                        }
                    }
                }
            }
        }
        let lhs = self
        return Autograd.record(Tensor(shape: batchShape + [m, n], data: out), inputs: [self, other]) { r in
            let g = r.grad!
            g.withUnsafeBufferPointer { gp in
                if lhs.requiresGrad {
                    // dA = dC B^T
                    var ga = [Float](repeating: 0, count: lhs.count)
                    other.data.withUnsafeBufferPointer { b in
                        ga.withUnsafeMutableBufferPointer { gap in
                            if shared {
                                BLAS.sgemm(transB: true, m: batch * m, n: k, k: n, a: gp.baseAddress!, b: b.baseAddress!,
                                           c: gap.baseAddress!)
                            } else {
                                for i in 0..<batch {
                                    BLAS.sgemm(transB: true, m: m, n: k, k: n, a: gp.baseAddress! + i * m * n,
                                               b: b.baseAddress! + i * k * n, c: gap.baseAddress! + i * m * k)
                                }
                            }
                        }
                    }
                    lhs.accumulateGrad(ga)
                }
                if other.requiresGrad {
                    // dB = A^T dC (summed over batches when B is shared)
                    var gb = [Float](repeating: 0, count: other.count)
                    lhs.data.withUnsafeBufferPointer { a in
                        gb.withUnsafeMutableBufferPointer { gbp in
                            if shared {
                                BLAS.sgemm(transA: true, m: k, n: n, k: batch * m, a: a.baseAddress!, b: gp.baseAddress!,
                                           c: gbp.baseAddress!)
                            } else {
                                for i in 0..<batch {
                                    BLAS.sgemm(transA: true, m: k, n: n, k: m, a: a.baseAddress! + i * m * k,
                                               b: gp.baseAddress! + i * m * n, c: gbp.baseAddress! + i * k * n)
                                }
                            }
                        }
                    }
                    other.accumulateGrad(gb)
                }
            }
        }
    }

    /// `x W^T + b` over the last dimension: x [..., in], weight [out, in], bias [out] (PyTorch's layout).
    /// One GEMM against the weight as stored (transposed operand) with the bias as its starting
    /// value, instead of a transposed copy of the weight, a product and a broadcast add.
    public func linear(weight: Tensor, bias: Tensor?) -> Tensor {
        let (inputs, outputs) = (shape[rank - 1], weight.shape[0])
        precondition(weight.rank == 2 && weight.shape[1] == inputs, "linear: input \(shape), weight \(weight.shape)")
        precondition(bias.map { $0.shape == [outputs] } ?? true, "linear: bias \(bias?.shape ?? []) for \(outputs) outputs")
        let rows = count / max(inputs, 1)
        var out = uninitializedFloats(rows * outputs)
        if let bias {
            out.withUnsafeMutableBufferPointer { o in
                bias.data.withUnsafeBufferPointer { b in
                    for r in 0..<rows { (o.baseAddress! + r * outputs).update(from: b.baseAddress!, count: outputs) }
                }
            }
        }
        data.withUnsafeBufferPointer { x in
            weight.data.withUnsafeBufferPointer { w in
                out.withUnsafeMutableBufferPointer { y in
                    BLAS.sgemm(transB: true, m: rows, n: outputs, k: inputs, a: x.baseAddress!, b: w.baseAddress!,
                               beta: bias == nil ? 0 : 1, c: y.baseAddress!)
                }
            }
        }
        let input = self
        return Autograd.record(Tensor(shape: Array(shape.dropLast()) + [outputs], data: out),
                               inputs: [self, weight] + (bias.map { [$0] } ?? [])) { r in
            r.grad!.withUnsafeBufferPointer { gp in
                let g = gp.baseAddress!
                if input.requiresGrad {
                    // dx = dy W
                    var gx = uninitializedFloats(input.count)
                    weight.data.withUnsafeBufferPointer { w in
                        gx.withUnsafeMutableBufferPointer { gxp in
                            BLAS.sgemm(m: rows, n: inputs, k: outputs, a: g, b: w.baseAddress!, c: gxp.baseAddress!)
                        }
                    }
                    input.accumulateGrad(gx)
                }
                if weight.requiresGrad {
                    // dW = dy^T x
                    var gw = uninitializedFloats(weight.count)
                    input.data.withUnsafeBufferPointer { x in
                        gw.withUnsafeMutableBufferPointer { gwp in
                            BLAS.sgemm(transA: true, m: outputs, n: inputs, k: rows, a: g, b: x.baseAddress!, c: gwp.baseAddress!)
                        }
                    }
                    weight.accumulateGrad(gw)
                }
                if let bias, bias.requiresGrad {
                    // db = column sums of dy, rows in order (the same at every thread count)
                    var gb = [Float](repeating: 0, count: outputs)
                    gb.withUnsafeMutableBufferPointer { gbp in
                        let s = gbp.baseAddress!
                        for row in 0..<rows {
                            let gr = g + row * outputs
                            for j in 0..<outputs { s[j] += gr[j] }
                        }
                    }
                    bias.accumulateGrad(gb)
                }
            }
        }
    }
}
