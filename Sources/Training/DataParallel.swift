import Engine

/// Data-parallel training's two exchanges: the gradient sum after every backward pass and the
/// copy of the first process's weights and buffers to the others.
public enum DataParallel {
    /// Floats per all-sum call: gradients travel in buckets of whole tensors, in the parameters'
    /// fixed order, so a given world size sums the same way every time.
    static let bucketElements = 1 << 22

    /// Sums every parameter's gradient over the processes. A parameter that has a gradient on some
    /// process but not on this one (it had no clips this step) contributes zeros; one that has none
    /// anywhere keeps none (the optimiser leaves it alone, as in a single process).
    public static func sumGradients(_ parameters: [Tensor], over world: Collective) {
        guard world.size > 1 else { return }
        var present = parameters.map { $0.grad == nil ? 0.0 : 1.0 }
        world.allSum(&present)
        var bucket: [Float] = [], members: [Int] = []
        func flush() {
            world.allSum(&bucket)
            var offset = 0
            for i in members {
                let n = parameters[i].count
                parameters[i].grad = Array(bucket[offset..<(offset + n)])
                offset += n
            }
            bucket.removeAll(keepingCapacity: true); members.removeAll(keepingCapacity: true)
        }
        for (i, p) in parameters.enumerated() where present[i] > 0 {
            if !bucket.isEmpty && bucket.count + p.count > bucketElements { flush() }
            if let g = p.grad { bucket += g } else { bucket += [Float](repeating: 0, count: p.count) }
            members.append(i)
        }
        if !bucket.isEmpty { flush() }
    }

    /// Gives every process the root's values of `tensors` (weights at the start, batch-norm
    /// running statistics before each step and each validation, as PyTorch's DDP does with its
    /// buffers).
    public static func broadcast(_ tensors: [Tensor], over world: Collective) {
        guard world.size > 1, !tensors.isEmpty else { return }
        var flat: [Float] = []
        flat.reserveCapacity(tensors.reduce(0) { $0 + $1.count })
        for t in tensors { flat += t.data }
        world.broadcast(&flat, root: 0)
        var offset = 0
        for t in tensors {
            t.data = Array(flat[offset..<(offset + t.count)])
            offset += t.count
        }
    }
}
