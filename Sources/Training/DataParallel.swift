import Data
import Engine
import Foundation

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

    /// Completes the frame index of `paths` before a data-parallel run: each process builds the
    /// missing entries of its share of the videos (every `size`-th), all of them are exchanged, and
    /// the first process alone writes the index (the others only read it). Without this, each
    /// process would decode the videos of its batches for their tables and overwrite the index
    /// file with its own part. A video that cannot be read is left to the loader, which reports it.
    public static func shareFrameIndex(_ index: FrameIndex, paths: [String], over world: Collective, jobs: Int) {
        guard world.size > 1 else { return }
        let mine = paths.enumerated().filter { $0.offset % world.size == world.rank }.map(\.element)
        index.writes = world.rank == 0
        _ = try? index.entries(for: mine, jobs: jobs)   // every entry is built; a failure is thrown after
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let text = (try? encoder.encode(index.storedEntries(for: mine))).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
        for part in world.allGather(text: text) {
            if let entries = try? JSONDecoder().decode([String: FrameIndex.Entry].self, from: Data(part.utf8)) { index.merge(entries) }
        }
        try? index.save()
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
