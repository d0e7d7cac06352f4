import Foundation
import CVectorMath

// Softmax, log-softmax, losses and similarity over the last dimension.

extension Tensor {
    /// Softmax over the last dimension. Rows run in parallel; each row's sums are serial, so the
    /// result does not depend on the thread count.
    public func softmax() -> Tensor {
        let d = shape[rank - 1], rows = count / max(d, 1)
        var out = uninitializedFloats(count)
        data.withUnsafeBufferPointer { xp in
            out.withUnsafeMutableBufferPointer { op in
                let (x, y) = (xp.baseAddress!, op.baseAddress!)
                Parallel.forEach(rows, minimumChunk: max(1, 16_384 / max(d, 1))) { range in
                    // Per row: laneMax, fastExp(x - max), 1 / laneSum, scale; in C, as wide as the
                    // CPU allows, with the same operations in the same order (tested bit for bit).
                    guard d > 0 else { return }
                    vip_softmax_rows(x + range.lowerBound * d, y + range.lowerBound * d, range.count, d)
                }
            }
        }
        let input = self
        return Autograd.record(Tensor(shape: shape, data: out), inputs: [self]) { r in
            var gx = [Float](repeating: 0, count: r.count)
            r.grad!.withUnsafeBufferPointer { gp in
                r.data.withUnsafeBufferPointer { yp in
                    gx.withUnsafeMutableBufferPointer { xp in
                        let (g, y, gxs) = (gp.baseAddress!, yp.baseAddress!, xp.baseAddress!)
                        Parallel.forEach(rows, minimumChunk: max(1, 16_384 / max(d, 1))) { range in
                            for row in range {
                                let base = row * d
                                var dot: Float = 0
                                for k in 0..<d { dot += g[base + k] * y[base + k] }
                                for k in 0..<d { gxs[base + k] = y[base + k] * (g[base + k] - dot) }
                            }
                        }
                    }
                }
            }
            input.accumulateGrad(gx)
        }
    }

    /// Log-softmax over the last dimension (stable: x - max - log sum exp).
    public func logSoftmax() -> Tensor {
        let d = shape[rank - 1], rows = count / max(d, 1)
        var out = [Float](repeating: 0, count: count)
        for r in 0..<rows {
            let base = r * d
            var m = -Float.infinity
            for k in 0..<d { m = max(m, data[base + k]) }
            var s: Float = 0
            for k in 0..<d { s += expf(data[base + k] - m) }
            let lse = m + logf(s)
            for k in 0..<d { out[base + k] = data[base + k] - lse }
        }
        let input = self
        return Autograd.record(Tensor(shape: shape, data: out), inputs: [self]) { r in
            let g = r.grad!, y = r.data
            var gx = [Float](repeating: 0, count: g.count)
            for row in 0..<rows {
                let base = row * d
                var sg: Float = 0
                for k in 0..<d { sg += g[base + k] }
                for k in 0..<d { gx[base + k] = g[base + k] - expf(y[base + k]) * sg }
            }
            input.accumulateGrad(gx)
        }
    }

    /// Mean cross-entropy of logits [B, K] against class indices, with label smoothing ε:
    /// the target is (1 - ε) one-hot + ε / K (PyTorch's `label_smoothing`).
    public func crossEntropy(labels: [Int], labelSmoothing: Float = 0) -> Tensor {
        precondition(rank == 2 && labels.count == shape[0], "crossEntropy: logits \(shape), \(labels.count) labels")
        let k = shape[1]
        var targets = [Float](repeating: labelSmoothing / Float(k), count: count)
        for (i, l) in labels.enumerated() {
            precondition((0..<k).contains(l), "crossEntropy: label \(l) outside 0..<\(k)")
            targets[i * k + l] += 1 - labelSmoothing
        }
        return crossEntropy(softTargets: Tensor(shape: shape, data: targets))
    }

    /// Mean cross-entropy against soft targets (rows summing to 1, for example mixup's).
    public func crossEntropy(softTargets: Tensor) -> Tensor {
        precondition(softTargets.shape == shape, "crossEntropy: targets \(softTargets.shape) for logits \(shape)")
        return -(logSoftmax() * softTargets).sum() * (1 / Float(shape[0]))
    }

    /// Divides each row (last dimension) by its L2 norm, clamped below by `eps` (F.normalize).
    public func l2Normalized(eps: Float = 1e-12) -> Tensor {
        let norms = squared().sum(axes: [rank - 1], keepDims: true).sqrt()
        let clamped = norms.map({ max($0, eps) }, derivative: { x, _ in x > eps ? 1 : 0 })
        return self / clamped
    }

    /// Cosine similarity of every row of `self` [A, D] with every row of `other` [B, D]: [A, B].
    public func cosineSimilarity(_ other: Tensor) -> Tensor {
        l2Normalized().matmul(other.l2Normalized().transposed(0, 1))
    }

    /// Inverted dropout: zeroes each value with probability p and scales the rest by 1 / (1 - p).
    public func dropout(_ p: Float, training: Bool, generator: inout SeededGenerator) -> Tensor {
        guard training && p > 0 else { return self }
        let scale = 1 / (1 - p)
        var mask = [Float](repeating: 0, count: count)
        for i in 0..<count { mask[i] = generator.uniform() >= Double(p) ? scale : 0 }
        return self * Tensor(shape: shape, data: mask)
    }

    /// Stochastic depth: drops the whole sample (dimension 0) with probability p, scaling kept ones.
    public func dropPath(_ p: Float, training: Bool, generator: inout SeededGenerator) -> Tensor {
        guard training && p > 0 else { return self }
        var maskShape = [Int](repeating: 1, count: rank)
        maskShape[0] = shape[0]
        let mask = (0..<shape[0]).map { _ in generator.uniform() >= Double(p) ? 1 / (1 - p) : Float(0) }
        return self * Tensor(shape: maskShape, data: mask)
    }
}

/// softmax(Q K^T * scale) V over [..., N, d] tensors (multi-head attention's core; MViT pools
/// Q, K and V before it, so Nq and Nk may differ).
public func scaledDotProductAttention(query q: Tensor, key k: Tensor, value v: Tensor, scale: Float? = nil) -> Tensor {
    let d = q.shape[q.rank - 1]
    let s = scale ?? 1 / Float(d).squareRoot()
    // Scale Q (N x d) rather than the scores (N x M, larger when M > d), as torchvision's MViT does.
    let scores = (q * s).matmul(k.transposed(k.rank - 2, k.rank - 1))
    return scores.softmax().matmul(v)
}

/// The sum of n floats in eight interleaved lanes (vector adds), then across the lanes: a fixed
/// order, so the same for every thread count.
@inline(__always)
func laneSum(_ p: UnsafePointer<Float>, _ n: Int) -> Float {
    var acc = SIMD8<Float>(repeating: 0)
    var k = 0
    let raw = UnsafeRawPointer(p)
    while k + 8 <= n {
        acc += raw.loadUnaligned(fromByteOffset: k * 4, as: SIMD8<Float>.self)
        k += 8
    }
    var s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]))
    while k < n { s += p[k]; k += 1 }
    return s
}

/// The sum of (p[k] - mu)^2 over n floats, in `laneSum`'s fixed order.
@inline(__always)
func laneSumOfSquares(_ p: UnsafePointer<Float>, _ n: Int, minus mu: Float) -> Float {
    var acc = SIMD8<Float>(repeating: 0)
    var k = 0
    let raw = UnsafeRawPointer(p), m = SIMD8<Float>(repeating: mu)
    while k + 8 <= n {
        let t = raw.loadUnaligned(fromByteOffset: k * 4, as: SIMD8<Float>.self) - m
        acc += t * t
        k += 8
    }
    var s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]))
    while k < n { let t = p[k] - mu; s += t * t; k += 1 }
    return s
}
