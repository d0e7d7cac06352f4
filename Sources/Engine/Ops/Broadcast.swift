/// NumPy broadcasting for elementwise ops: shapes align from the right; a dimension of 1 (or a
/// missing one) stretches to the other's size.
public enum Broadcast {
    public static func shape(_ a: [Int], _ b: [Int]) -> [Int] {
        let r = max(a.count, b.count)
        return (0..<r).map { i in
            let x = i - (r - a.count) >= 0 ? a[i - (r - a.count)] : 1
            let y = i - (r - b.count) >= 0 ? b[i - (r - b.count)] : 1
            precondition(x == y || x == 1 || y == 1, "shapes \(a) and \(b) do not broadcast")
            return max(x, y)
        }
    }

    /// Strides of `shape` inside a result of `result` shape (0 where broadcast).
    static func strides(_ shape: [Int], in result: [Int]) -> [Int] {
        let own = Tensor.strides(shape)
        let offset = result.count - shape.count
        return (0..<result.count).map { i in
            let j = i - offset
            return j < 0 || shape[j] == 1 ? 0 : own[j]
        }
    }

    /// Calls `body(outIndex, aIndex, bIndex, runLength, aStride, bStride)` for each contiguous run of
    /// the last dimension, in row-major order.
    static func runs(_ result: [Int], _ sa: [Int], _ sb: [Int],
                     _ body: (Int, Int, Int, Int, Int, Int) -> Void) {
        let r = result.count
        if r == 0 { body(0, 0, 0, 1, 0, 0); return }
        let inner = result[r - 1]
        let outer = result.dropLast().reduce(1, *)
        var idx = [Int](repeating: 0, count: max(r - 1, 0))
        var ia = 0, ib = 0
        for o in 0..<outer {
            body(o * inner, ia, ib, inner, sa[r - 1], sb[r - 1])
            // Advance the multi-index over the leading dimensions.
            var d = r - 2
            while d >= 0 {
                idx[d] += 1; ia += sa[d]; ib += sb[d]
                if idx[d] < result[d] { break }
                ia -= sa[d] * result[d]; ib -= sb[d] * result[d]; idx[d] = 0
                d -= 1
            }
        }
    }

    /// Sums a gradient of shape `result` down to `shape` (undoing broadcasting).
    public static func reduce(_ g: [Float], from result: [Int], to shape: [Int]) -> [Float] {
        if result == shape { return g }
        let n = shape.reduce(1, *)
        if n == 1 {
            var s: Double = 0
            for v in g { s += Double(v) }
            return [Float(s)]
        }
        var out = [Float](repeating: 0, count: n)
        let s = strides(shape, in: result)
        let zero = [Int](repeating: 0, count: result.count)
        g.withUnsafeBufferPointer { gp in
            out.withUnsafeMutableBufferPointer { op in
                runs(result, s, zero) { o, ia, _, len, da, _ in
                    if da == 0 {
                        var acc: Float = 0
                        for k in 0..<len { acc += gp[o + k] }
                        op[ia] += acc
                    } else {
                        for k in 0..<len { op[ia + k * da] += gp[o + k] }
                    }
                }
            }
        }
        return out
    }
}

/// Applies `f` elementwise over broadcast operands.
func broadcastBinary(_ a: Tensor, _ b: Tensor, _ f: (Float, Float) -> Float) -> ([Int], [Float]) {
    if a.shape == b.shape {
        var out = uninitializedFloats(a.count)
        a.data.withUnsafeBufferPointer { ap in
            b.data.withUnsafeBufferPointer { bp in
                out.withUnsafeMutableBufferPointer { op in
                    let (app, bpp, opp) = (ap.baseAddress!, bp.baseAddress!, op.baseAddress!)
                    Parallel.forEach(op.count, minimumChunk: 1 << 16) { r in
                        for i in r { opp[i] = f(app[i], bpp[i]) }
                    }
                }
            }
        }
        return (a.shape, out)
    }
    let shape = Broadcast.shape(a.shape, b.shape)
    let sa = Broadcast.strides(a.shape, in: shape), sb = Broadcast.strides(b.shape, in: shape)
    var out = uninitializedFloats(shape.reduce(1, *))  // the runs cover every element
    a.data.withUnsafeBufferPointer { ap in
        b.data.withUnsafeBufferPointer { bp in
            out.withUnsafeMutableBufferPointer { op in
                Broadcast.runs(shape, sa, sb) { o, ia, ib, len, da, db in
                    for k in 0..<len { op[o + k] = f(ap[ia + k * da], bp[ib + k * db]) }
                }
            }
        }
    }
    return (shape, out)
}
