// Reshape, permute, slice, concat: layout changes with their gradients.

extension Tensor {
    /// The same values with another shape (one dimension may be -1: inferred).
    public func reshaped(_ newShape: [Int]) -> Tensor {
        var s = newShape
        if let i = s.firstIndex(of: -1) {
            let known = s.enumerated().filter { $0.offset != i }.map(\.element).reduce(1, *)
            precondition(known > 0 && count % known == 0, "cannot reshape \(shape) to \(newShape)")
            s[i] = count / known
        }
        precondition(s.reduce(1, *) == count, "cannot reshape \(shape) (\(count) values) to \(newShape)")
        return Autograd.record(Tensor(shape: s, data: data), inputs: [self]) { [unowned self] r in
            self.accumulateGrad(r.grad!)
        }
    }

    /// Flattens dimensions from `axis` on into one.
    public func flattened(from axis: Int = 1) -> Tensor {
        reshaped(Array(shape.prefix(axis)) + [shape.dropFirst(axis).reduce(1, *)])
    }

    /// Reorders dimensions: result dimension i is input dimension `order[i]`.
    public func permuted(_ order: [Int]) -> Tensor {
        precondition(order.sorted() == Array(0..<rank), "permutation \(order) of rank \(rank)")
        let out = Tensor.permute(data, shape: shape, order: order)
        var inverse = [Int](repeating: 0, count: rank)
        for (i, o) in order.enumerated() { inverse[o] = i }
        let newShape = order.map { shape[$0] }
        return Autograd.record(Tensor(shape: newShape, data: out), inputs: [self]) { [unowned self] r in
            self.accumulateGrad(Tensor.permute(r.grad!, shape: newShape, order: inverse))
        }
    }

    /// Swaps two dimensions.
    public func transposed(_ a: Int, _ b: Int) -> Tensor {
        var order = Array(0..<rank)
        order.swapAt(a, b)
        return permuted(order)
    }

    static func permute(_ data: [Float], shape: [Int], order: [Int]) -> [Float] {
        let r = shape.count
        if order == Array(0..<r) { return data }
        let inStrides = strides(shape)
        let outShape = order.map { shape[$0] }
        let srcStrides = order.map { inStrides[$0] }  // input stride of each output dimension
        var out = uninitializedFloats(data.count)
        let inner = outShape[r - 1], innerStride = srcStrides[r - 1]
        // A transpose of the innermost source dimension: copy in tiles, so each source cache line
        // is read once instead of once per output row.
        if innerStride != 1, inner > 1, let j = (0..<(r - 1)).first(where: { srcStrides[$0] == 1 && outShape[$0] > 1 }) {
            transposeTiles(data, into: &out, outShape: outShape, srcStrides: srcStrides, tiled: j)
            return out
        }
        let outer = data.count / max(inner, 1)
        data.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                let (s, d) = (src.baseAddress!, dst.baseAddress!)
                Parallel.forEach(outer, minimumChunk: 256) { range in
                    for o in range {
                        // Decode the outer index into the leading output coordinates.
                        var rem = o, base = 0
                        for dim in stride(from: r - 2, through: 0, by: -1) {
                            let c = rem % outShape[dim]
                            rem /= outShape[dim]
                            base += c * srcStrides[dim]
                        }
                        let dstBase = o * inner
                        if innerStride == 1 {
                            (d + dstBase).update(from: s + base, count: inner)
                        } else {
                            for k in 0..<inner { d[dstBase + k] = s[base + k * innerStride] }
                        }
                    }
                }
            }
        }
        return out
    }

    /// The permutation's copy when output dimension `j` is the source's innermost (stride 1) and the
    /// output's innermost is strided in the source: 32 x 32 tiles of (j, last) per position of the
    /// other dimensions, written row by row.
    static func transposeTiles(_ data: [Float], into out: inout [Float], outShape: [Int], srcStrides: [Int], tiled j: Int) {
        let r = outShape.count, tile = 32
        let outStrides = strides(outShape)
        let (rows, cols) = (outShape[j], outShape[r - 1])
        let (rowDst, colSrc) = (outStrides[j], srcStrides[r - 1])
        let others = (0..<(r - 1)).filter { $0 != j }
        let rowTiles = (rows + tile - 1) / tile
        let items = others.reduce(1) { $0 * outShape[$1] } * rowTiles
        data.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                let (s, d) = (src.baseAddress!, dst.baseAddress!)
                Parallel.forEach(items, minimumChunk: max(1, 8192 / (tile * cols))) { range in
                    for item in range {
                        var rem = item / rowTiles, srcBase = 0, dstBase = 0
                        for dim in others.reversed() {
                            let c = rem % outShape[dim]
                            rem /= outShape[dim]
                            srcBase += c * srcStrides[dim]
                            dstBase += c * outStrides[dim]
                        }
                        let a0 = (item % rowTiles) * tile, a1 = min(a0 + tile, rows)
                        for b0 in stride(from: 0, to: cols, by: tile) {
                            let b1 = min(b0 + tile, cols)
                            for a in a0..<a1 {
                                let (sa, da) = (s + srcBase + a, d + dstBase + a * rowDst)
                                for b in b0..<b1 { da[b] = sa[b * colSrc] }
                            }
                        }
                    }
                }
            }
        }
    }

    /// Elements `start..<end` along `axis`.
    public func sliced(axis: Int, _ start: Int, _ end: Int) -> Tensor {
        precondition(0 <= start && start <= end && end <= shape[axis], "slice \(start)..<\(end) of axis \(axis) in \(shape)")
        let outer = shape.prefix(axis).reduce(1, *)
        let inner = shape.dropFirst(axis + 1).reduce(1, *)
        let n = shape[axis], m = end - start
        var out = uninitializedFloats(outer * m * inner)
        for o in 0..<outer {
            let src = (o * n + start) * inner, dst = o * m * inner
            out.withUnsafeMutableBufferPointer { op in
                data.withUnsafeBufferPointer { ip in
                    (op.baseAddress! + dst).update(from: ip.baseAddress! + src, count: m * inner)
                }
            }
        }
        var newShape = shape
        newShape[axis] = m
        return Autograd.record(Tensor(shape: newShape, data: out), inputs: [self]) { [unowned self] r in
            r.grad!.withUnsafeBufferPointer { rg in
                self.accumulateGrad { g, fresh in
                    for o in 0..<outer {
                        Tensor.addOrStore(rg.baseAddress! + o * m * inner, into: g + (o * n + start) * inner, m * inner, store: fresh)
                    }
                }
            }
        }
    }

    /// Joins tensors along `axis`; all other dimensions must agree.
    public static func concatenated(_ parts: [Tensor], axis: Int) -> Tensor {
        precondition(!parts.isEmpty, "concatenate nothing")
        let base = parts[0].shape
        for p in parts {
            precondition(p.rank == base.count && (0..<base.count).allSatisfy { $0 == axis || p.shape[$0] == base[$0] },
                         "cannot concatenate \(p.shape) with \(base) along \(axis)")
        }
        let outer = base.prefix(axis).reduce(1, *)
        let inner = base.dropFirst(axis + 1).reduce(1, *)
        let sizes = parts.map { $0.shape[axis] }
        let total = sizes.reduce(0, +)
        var out = uninitializedFloats(outer * total * inner)
        var offset = 0
        out.withUnsafeMutableBufferPointer { op in
            for (p, n) in zip(parts, sizes) {
                p.data.withUnsafeBufferPointer { pp in
                    for o in 0..<outer {
                        (op.baseAddress! + (o * total + offset) * inner).update(from: pp.baseAddress! + o * n * inner, count: n * inner)
                    }
                }
                offset += n
            }
        }
        var shape = base
        shape[axis] = total
        return Autograd.record(Tensor(shape: shape, data: out), inputs: parts) { r in
            let g = r.grad!
            var offset = 0
            for (p, n) in zip(parts, sizes) {
                if p.requiresGrad {
                    var gp = uninitializedFloats(p.count)   // every element written below
                    gp.withUnsafeMutableBufferPointer { dp in
                        g.withUnsafeBufferPointer { sp in
                            for o in 0..<outer {
                                (dp.baseAddress! + o * n * inner).update(from: sp.baseAddress! + (o * total + offset) * inner, count: n * inner)
                            }
                        }
                    }
                    p.accumulateGrad(gp)
                }
                offset += n
            }
        }
    }
}

extension Tensor {
    /// dst[k] = src[k] (store) or dst[k] += src[k], k < n.
    static func addOrStore(_ src: UnsafePointer<Float>, into dst: UnsafeMutablePointer<Float>, _ n: Int, store: Bool) {
        if store {
            dst.update(from: src, count: n)
        } else {
            for k in 0..<n { dst[k] += src[k] }
        }
    }

    /// Attention heads from a packed projection: N x L x (parts x heads x d), whose channels are
    /// part-major (MViT's and ViT's qkv: q|k|v, each heads x d), to part `part` as
    /// N x heads x L x d. One copy of that part, where a permutation of the whole then a slice
    /// copies everything twice; the gradient goes straight into the part's channels.
    public func attentionHeads(part: Int, of parts: Int, heads: Int) -> Tensor {
        precondition(rank == 3 && shape[2] % (parts * heads) == 0 && (0..<parts).contains(part),
                     "attentionHeads: part \(part) of \(parts), \(heads) heads, from \(shape)")
        let (n, l, width) = (shape[0], shape[1], shape[2])
        let d = width / (parts * heads)
        // Row (b, h, t) of the result is d channels starting at this offset in the input.
        func source(_ b: Int, _ h: Int, _ t: Int) -> Int { (b * l + t) * width + (part * heads + h) * d }
        var out = uninitializedFloats(n * heads * l * d)
        data.withUnsafeBufferPointer { xp in
            out.withUnsafeMutableBufferPointer { op in
                let (x, y) = (xp.baseAddress!, op.baseAddress!)
                Parallel.forEach(n * heads, minimumChunk: 1) { range in
                    for bh in range {
                        let (b, h) = (bh / heads, bh % heads)
                        for t in 0..<l { (y + (bh * l + t) * d).update(from: x + source(b, h, t), count: d) }
                    }
                }
            }
        }
        return Autograd.record(Tensor(shape: [n, heads, l, d], data: out), inputs: [self]) { [unowned self] r in
            r.grad!.withUnsafeBufferPointer { gp in
                let g = gp.baseAddress!
                self.accumulateGrad { dx, fresh in
                    Parallel.forEach(n * heads, minimumChunk: 1) { range in
                        for bh in range {
                            let (b, h) = (bh / heads, bh % heads)
                            for t in 0..<l { Tensor.addOrStore(g + (bh * l + t) * d, into: dx + source(b, h, t), d, store: fresh) }
                        }
                    }
                }
            }
        }
    }
}
