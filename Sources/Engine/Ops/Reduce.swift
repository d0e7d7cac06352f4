// Sums and means over axes.

extension Tensor {
    /// Sum over `axes` (all when empty), keeping them as size 1 when `keepDims`.
    public func sum(axes: [Int] = [], keepDims: Bool = false) -> Tensor {
        let axes = axes.isEmpty ? Array(0..<rank) : axes.map { $0 < 0 ? $0 + rank : $0 }
        var kept = shape
        for a in axes { kept[a] = 1 }
        let out = Broadcast.reduce(data, from: shape, to: kept)
        let finalShape = keepDims ? kept : shape.enumerated().filter { !axes.contains($0.offset) }.map(\.element)
        let fullShape = shape
        return Autograd.record(Tensor(shape: finalShape, data: out), inputs: [self]) { [unowned self] r in
            let g = Tensor(shape: kept, data: r.grad!)
            self.accumulateGrad(g.expanded(to: fullShape))
        }
    }

    /// Mean over `axes` (all when empty).
    public func mean(axes: [Int] = [], keepDims: Bool = false) -> Tensor {
        let axes = axes.isEmpty ? Array(0..<rank) : axes.map { $0 < 0 ? $0 + rank : $0 }
        let n = axes.map { shape[$0] }.reduce(1, *)
        return sum(axes: axes, keepDims: keepDims) * (1 / Float(max(n, 1)))
    }
}
