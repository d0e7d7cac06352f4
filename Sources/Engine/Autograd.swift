/// Reverse-mode automatic differentiation.
///
/// While recording is on (the default), every op whose inputs need gradients returns a tensor that
/// keeps its inputs and a closure sending its gradient back. `backward()` orders that graph (the
/// tape) by a depth-first post-order walk from the loss, seeds the loss's gradient with 1 and runs
/// the closures in reverse order, accumulating into each input's `grad`. In inference mode
/// (`Autograd.withoutGradients`) nothing is recorded, so activations are freed as soon as no later
/// op needs them.
public enum Autograd {
    /// Whether ops record their inputs. Not thread-local: the engine is driven from one thread, its
    /// kernels parallelise internally.
    public nonisolated(unsafe) static var isRecording = true

    /// Runs `body` with recording off (evaluation, counting, data preparation).
    public static func withoutGradients<T>(_ body: () throws -> T) rethrows -> T {
        let previous = isRecording
        isRecording = false
        defer { isRecording = previous }
        return try body()
    }

    /// Wraps an op's result: records `inputs` and `backward` when any input needs a gradient.
    /// `backward` receives the result (whose `grad` is set) and must accumulate into the inputs.
    public static func record(_ result: Tensor, inputs: [Tensor], backward: @escaping (Tensor) -> Void) -> Tensor {
        if isRecording && inputs.contains(where: { $0.requiresGrad }) {
            result.requiresGrad = true
            result.parents = inputs
            result.backwardFn = backward
        }
        return result
    }
}

extension Tensor {
    /// Adds `g` into this tensor's gradient (allocating it on first use).
    public func accumulateGrad(_ g: [Float]) {
        guard requiresGrad else { return }
        precondition(g.count == data.count, "gradient of \(g.count) values for shape \(shape)")
        if grad == nil {
            grad = g
        } else {
            grad!.withUnsafeMutableBufferPointer { dst in
                g.withUnsafeBufferPointer { src in
                    for i in 0..<dst.count { dst[i] += src[i] }
                }
            }
        }
    }

    /// Adds a gradient that is zero outside some of this tensor's elements (a slice's, one head's)
    /// without materialising the zeros: `body` gets the gradient buffer and whether it was just
    /// allocated (zero-filled), in which case it should store its values rather than add them, as
    /// `accumulateGrad` stores a first gradient (so a -0 stays -0).
    /// Outside the region the gradient is left as it is, where adding a full-size gradient's zeros
    /// would turn a -0 there into +0: equal values, a different bit pattern for zero only.
    func accumulateGrad(region body: (UnsafeMutablePointer<Float>, _ fresh: Bool) -> Void) {
        guard requiresGrad else { return }
        let fresh = grad == nil
        if fresh { grad = [Float](repeating: 0, count: data.count) }
        grad!.withUnsafeMutableBufferPointer { body($0.baseAddress!, fresh) }
    }

    /// Back-propagates from this tensor (a scalar loss, or with an explicit seed gradient).
    ///
    /// As PyTorch's default (`retain_graph=False`), the graph is consumed on the way: once an op's
    /// backward has run, every consumer of its result has already sent its gradient, so the
    /// result's gradient buffer and its closure (with the activations the closure keeps) are
    /// released there and then, instead of all living until the pass ends. Leaves (parameters,
    /// inputs: no closure) keep their gradients. `retainGraph` keeps the closures, for calling
    /// backward again on the same graph (benchmarks); intermediate gradients are freed either way,
    /// so a second pass adds to the leaves what the first did.
    public func backward(seed: [Float]? = nil, retainGraph: Bool = false) {
        precondition(seed != nil || data.count == 1, "backward() without a seed needs a scalar, got \(shape)")
        var order: [Tensor] = []
        var visited = Set<ObjectIdentifier>()
        // Iterative post-order DFS (graphs of deep networks overflow a recursive walk's stack).
        var stack: [(Tensor, Bool)] = [(self, false)]
        while let (t, expanded) = stack.popLast() {
            if expanded { order.append(t); continue }
            if !visited.insert(ObjectIdentifier(t)).inserted { continue }
            stack.append((t, true))
            for p in t.parents where p.requiresGrad && !visited.contains(ObjectIdentifier(p)) {
                stack.append((p, false))
            }
        }
        accumulateGrad(seed ?? [1])
        // Popping releases the walk's own reference to each tensor as it is done with.
        while let t = order.popLast() {
            guard let fn = t.backwardFn, t.grad != nil else { continue }
            fn(t)
            t.grad = nil
            if !retainGraph { t.backwardFn = nil; t.parents = [] }
        }
    }

    /// Drops the graph behind this tensor (after a training step) so its memory can be freed.
    public func releaseGraph() {
        var stack = [self]
        while let t = stack.popLast() {
            stack.append(contentsOf: t.parents)
            t.parents = []
            t.backwardFn = nil
        }
    }
}
