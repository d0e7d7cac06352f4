// Matrix products through OpenBLAS.

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
    public func linear(weight: Tensor, bias: Tensor?) -> Tensor {
        let y = matmul(weight.transposed(0, 1))
        return bias.map { y + $0 } ?? y
    }
}
