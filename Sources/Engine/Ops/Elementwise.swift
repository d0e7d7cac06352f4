import Foundation
import CVectorMath

// Elementwise arithmetic with broadcasting, and the pointwise nonlinearities.

extension Tensor {
    /// A tensor of the same shape as `like`-expanded values of `self` (for gradients of broadcast ops).
    func expanded(to shape: [Int]) -> [Float] {
        if self.shape == shape { return data }
        let ones = Tensor(shape: shape, data: [Float](repeating: 0, count: shape.reduce(1, *)))
        return broadcastBinary(ones, self) { _, y in y }.1
    }
}

public func + (a: Tensor, b: Tensor) -> Tensor {
    let (shape, out) = broadcastBinary(a, b, +)
    return Autograd.record(Tensor(shape: shape, data: out), inputs: [a, b]) { r in
        let g = r.grad!
        a.accumulateGrad(Broadcast.reduce(g, from: shape, to: a.shape))
        b.accumulateGrad(Broadcast.reduce(g, from: shape, to: b.shape))
    }
}

extension Tensor {
    /// y = max(a + b, 0) over n values, in parallel chunks (`addingReLU`'s arithmetic, also on
    /// blocked activations).
    static func addReLU(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, _ n: Int) {
        Parallel.forEach(n, minimumChunk: 1 << 15) { r in
            // Pointers moved to the range: indices without overflow checks vectorise.
            let (ai, bi, yi) = (a + r.lowerBound, b + r.lowerBound, y + r.lowerBound)
            for k in 0..<r.count { yi[k] = max(ai[k] + bi[k], 0) }
        }
    }

    /// max(self + other, 0) in one pass, for a residual block's sum and ReLU: the values and
    /// gradients of `(self + other).relu()` without the sum's buffer and the passes over it.
    public func addingReLU(_ other: Tensor) -> Tensor {
        precondition(shape == other.shape, "addingReLU: shapes \(shape) and \(other.shape)")
        var out = uninitializedFloats(count)
        data.withUnsafeBufferPointer { ap in
            other.data.withUnsafeBufferPointer { bp in
                out.withUnsafeMutableBufferPointer { op in
                    Tensor.addReLU(ap.baseAddress!, bp.baseAddress!, into: op.baseAddress!, count)
                }
            }
        }
        let (a, b) = (self, other)
        return Autograd.record(Tensor(shape: shape, data: out), inputs: [self, other]) { r in
            // The ReLU's gradient, read from the output: y > 0 exactly where the sum is.
            let gx = Tensor.gradients(ReLUFunction.self, at: r.data, r.grad!)
            a.accumulateGrad(gx)
            b.accumulateGrad(gx)
        }
    }
}

extension Tensor {
    /// self x scale, `scale` a vector over the last dimension (LayerScale's per-channel factor):
    /// `self * scale` without the broadcasting machinery, and in the backward pass without the
    /// expanded copies of either operand. The same products and the same sums, in the same order
    /// (rows in order per channel), as `*` and its `Broadcast.reduce`.
    public func scaledChannels(by scale: Tensor) -> Tensor {
        let c = scale.count
        precondition(scale.rank == 1 && rank >= 1 && shape[rank - 1] == c, "scaledChannels: \(shape) by \(scale.shape)")
        // `*`'s other reductions: one channel (a Double sum) or no broadcast at all.
        if c == 1 || rank == 1 { return self * scale }
        let rows = count / max(c, 1)
        var out = uninitializedFloats(count)
        data.withUnsafeBufferPointer { xp in
            scale.data.withUnsafeBufferPointer { sp in
                out.withUnsafeMutableBufferPointer { op in
                    let (x, w, y) = (xp.baseAddress!, sp.baseAddress!, op.baseAddress!)
                    Parallel.forEach(rows, minimumChunk: max(1, 16384 / max(c, 1))) { range in
                        for r in range {
                            let (xr, yr) = (x + r * c, y + r * c)
                            for j in 0..<c { yr[j] = xr[j] * w[j] }
                        }
                    }
                }
            }
        }
        let input = self
        return Autograd.record(Tensor(shape: shape, data: out), inputs: [self, scale]) { r in
            r.grad!.withUnsafeBufferPointer { gp in
                let g = gp.baseAddress!
                if input.requiresGrad {
                    var gx = uninitializedFloats(input.count)
                    scale.data.withUnsafeBufferPointer { sp in
                        gx.withUnsafeMutableBufferPointer { dp in
                            let (w, d) = (sp.baseAddress!, dp.baseAddress!)
                            Parallel.forEach(rows, minimumChunk: max(1, 16384 / max(c, 1))) { range in
                                for r in range {
                                    let (gr, dr) = (g + r * c, d + r * c)
                                    for j in 0..<c { dr[j] = gr[j] * w[j] }
                                }
                            }
                        }
                    }
                    input.accumulateGrad(gx)
                }
                if scale.requiresGrad {
                    var gs = [Float](repeating: 0, count: c)
                    input.data.withUnsafeBufferPointer { xp in
                        gs.withUnsafeMutableBufferPointer { sp in
                            let (x, s) = (xp.baseAddress!, sp.baseAddress!)
                            for r in 0..<rows {
                                let (gr, xr) = (g + r * c, x + r * c)
                                for j in 0..<c { s[j] += gr[j] * xr[j] }
                            }
                        }
                    }
                    scale.accumulateGrad(gs)
                }
            }
        }
    }
}

public func - (a: Tensor, b: Tensor) -> Tensor {
    let (shape, out) = broadcastBinary(a, b, -)
    return Autograd.record(Tensor(shape: shape, data: out), inputs: [a, b]) { r in
        let g = r.grad!
        a.accumulateGrad(Broadcast.reduce(g, from: shape, to: a.shape))
        b.accumulateGrad(Broadcast.reduce(g.map { -$0 }, from: shape, to: b.shape))
    }
}

public func * (a: Tensor, b: Tensor) -> Tensor {
    let (shape, out) = broadcastBinary(a, b, *)
    return Autograd.record(Tensor(shape: shape, data: out), inputs: [a, b]) { r in
        let g = r.grad!
        if a.requiresGrad {
            let bb = b.expanded(to: shape)
            a.accumulateGrad(Broadcast.reduce(zip(g, bb).map(*), from: shape, to: a.shape))
        }
        if b.requiresGrad {
            let aa = a.expanded(to: shape)
            b.accumulateGrad(Broadcast.reduce(zip(g, aa).map(*), from: shape, to: b.shape))
        }
    }
}

public func / (a: Tensor, b: Tensor) -> Tensor {
    let (shape, out) = broadcastBinary(a, b, /)
    return Autograd.record(Tensor(shape: shape, data: out), inputs: [a, b]) { r in
        let g = r.grad!
        let bb = b.expanded(to: shape)
        if a.requiresGrad {
            a.accumulateGrad(Broadcast.reduce(zip(g, bb).map { $0 / $1 }, from: shape, to: a.shape))
        }
        if b.requiresGrad {
            let aa = a.expanded(to: shape)
            var gb = [Float](repeating: 0, count: g.count)
            for i in 0..<g.count { gb[i] = -g[i] * aa[i] / (bb[i] * bb[i]) }
            b.accumulateGrad(Broadcast.reduce(gb, from: shape, to: b.shape))
        }
    }
}

public func + (a: Tensor, s: Float) -> Tensor { a.map({ $0 + s }, derivative: { _, _ in 1 }) }
public func - (a: Tensor, s: Float) -> Tensor { a + (-s) }
public func * (a: Tensor, s: Float) -> Tensor { a.map({ $0 * s }, derivative: { _, _ in s }) }
public func * (s: Float, a: Tensor) -> Tensor { a * s }
public func / (a: Tensor, s: Float) -> Tensor { a * (1 / s) }
public prefix func - (a: Tensor) -> Tensor { a * -1 }

extension Tensor {
    /// Applies `f` to every value; `derivative(x, y)` gives dy/dx from the input and output.
    public func map(_ f: @escaping (Float) -> Float, derivative: @escaping (Float, Float) -> Float) -> Tensor {
        var out = uninitializedFloats(count)
        data.withUnsafeBufferPointer { xp in
            out.withUnsafeMutableBufferPointer { op in
                let (x, o) = (xp.baseAddress!, op.baseAddress!)
                Parallel.forEach(count, minimumChunk: 1 << 15) { r in
                    for i in r { o[i] = f(x[i]) }
                }
            }
        }
        let input = self
        return Autograd.record(Tensor(shape: shape, data: out), inputs: [self]) { r in
            let g = r.grad!
            var gx = [Float](repeating: 0, count: g.count)
            input.data.withUnsafeBufferPointer { xp in
                r.data.withUnsafeBufferPointer { yp in
                    gx.withUnsafeMutableBufferPointer { gp in
                        let (x, y, gxp) = (xp.baseAddress!, yp.baseAddress!, gp.baseAddress!)
                        g.withUnsafeBufferPointer { gg in
                            let gpp = gg.baseAddress!
                            Parallel.forEach(g.count, minimumChunk: 1 << 15) { r in
                                for i in r { gxp[i] = gpp[i] * derivative(x[i], y[i]) }
                            }
                        }
                    }
                }
            }
            input.accumulateGrad(gx)
        }
    }

    /// max(x, 0).
    public func relu() -> Tensor { pointwise(ReLUFunction.self) }

    /// GELU, exact form: x * Phi(x) with the error function (PyTorch's default, MViT's), the
    /// error function evaluated by `fastErf` (absolute error ~3e-7) in a loop that vectorises.
    public func gelu() -> Tensor { pointwise(GELUFunction.self) }

    /// A function applied to every element, and its gradient, in loops the compiler specialises
    /// for `F` (`map`'s closures are not inlined, which keeps its loops scalar).
    func pointwise<F: PointwiseFunction>(_: F.Type) -> Tensor {
        var out = uninitializedFloats(count)
        data.withUnsafeBufferPointer { xp in
            out.withUnsafeMutableBufferPointer { op in
                let (x, o) = (xp.baseAddress!, op.baseAddress!)
                Parallel.forEach(count, minimumChunk: 1 << 15) { r in
                    F.values(x + r.lowerBound, o + r.lowerBound, r.count)
                }
            }
        }
        let input = self
        return Autograd.record(Tensor(shape: shape, data: out), inputs: [self]) { r in
            input.accumulateGrad(Tensor.gradients(F.self, at: input.data, r.grad!))
        }
    }

    /// F's input gradients for upstream gradients g at the points x, in parallel chunks.
    static func gradients<F: PointwiseFunction>(_: F.Type, at x: [Float], _ g: [Float]) -> [Float] {
        var gx = uninitializedFloats(x.count)
        x.withUnsafeBufferPointer { xp in
            g.withUnsafeBufferPointer { gp in
                gx.withUnsafeMutableBufferPointer { dp in
                    let (x, g, d) = (xp.baseAddress!, gp.baseAddress!, dp.baseAddress!)
                    Parallel.forEach(dp.count, minimumChunk: 1 << 15) { range in
                        let o = range.lowerBound
                        F.gradients(x + o, g + o, d + o, range.count)
                    }
                }
            }
        }
        return gx
    }

    public func exp() -> Tensor { map({ expf($0) }, derivative: { _, y in y }) }
    public func log() -> Tensor { map({ logf($0) }, derivative: { x, _ in 1 / x }) }
    public func sqrt() -> Tensor { map({ sqrtf($0) }, derivative: { _, y in 0.5 / y }) }
    public func squared() -> Tensor { map({ $0 * $0 }, derivative: { x, _ in 2 * x }) }
    public func sigmoid() -> Tensor { map({ 1 / (1 + expf(-$0)) }, derivative: { _, y in y * (1 - y) }) }
    public func tanh() -> Tensor { map({ tanhf($0) }, derivative: { _, y in 1 - y * y }) }
}

/// An element-wise function for `Tensor.pointwise`: its value and the input's gradient given the
/// output's, and the loops over a run of elements (a function may run them in C, compiled for the
/// CPU found at run time).
protocol PointwiseFunction {
    static func value(_ x: Float) -> Float
    static func gradient(_ x: Float, _ outputGradient: Float) -> Float
    static func values(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int)
    static func gradients(_ x: UnsafePointer<Float>, _ g: UnsafePointer<Float>, _ d: UnsafeMutablePointer<Float>, _ n: Int)
}

extension PointwiseFunction {
    @inline(__always) static func values(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
        for i in 0..<n { y[i] = value(x[i]) }
    }
    @inline(__always) static func gradients(_ x: UnsafePointer<Float>, _ g: UnsafePointer<Float>, _ d: UnsafeMutablePointer<Float>, _ n: Int) {
        for i in 0..<n { d[i] = gradient(x[i], g[i]) }
    }
}

enum ReLUFunction: PointwiseFunction {
    @inline(__always) static func value(_ x: Float) -> Float { max(x, 0) }
    @inline(__always) static func gradient(_ x: Float, _ g: Float) -> Float { x > 0 ? g : 0 }
}

enum GELUFunction: PointwiseFunction {
    @inline(__always) static func value(_ x: Float) -> Float { 0.5 * x * (1 + fastErf(x * 0.70710678118654752)) }
    @inline(__always) static func gradient(_ x: Float, _ g: Float) -> Float {
        let cdf = 0.5 * (1 + fastErf(x * 0.70710678118654752))
        return g * (cdf + x * 0.39894228040143268 * fastExp(-0.5 * x * x))
    }
    // The same arithmetic in C (CVectorMath), 16 or 8 lanes wide where the CPU has AVX-512 or
    // AVX2 (this package builds Swift for baseline x86-64, whose loops are 4 lanes wide).
    static func values(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) { vip_gelu(x, y, n) }
    static func gradients(_ x: UnsafePointer<Float>, _ g: UnsafePointer<Float>, _ d: UnsafeMutablePointer<Float>, _ n: Int) {
        vip_gelu_backward(x, g, d, n)
    }
}
