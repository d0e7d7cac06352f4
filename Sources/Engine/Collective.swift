/// Collective operations across the processes of a data-parallel job (MPI's ranks), as the engine
/// and the training loop need them. The engine only declares what it uses; the `Distributed`
/// module implements it on Open MPI, and `SingleProcess` is the world of one.
///
/// Every call is collective: each process of the group makes the same calls in the same order,
/// with the same element counts (but for `allGather`, whose counts may differ per process).
public protocol Collective: AnyObject {
    /// This process's index, 0..<size.
    var rank: Int { get }
    /// Number of processes.
    var size: Int { get }
    /// Element-wise sum over the processes, in place; every process gets the same result.
    func allSum(_ values: inout [Double])
    /// Element-wise sum of floats over the processes, in place (gradients).
    func allSum(_ values: inout [Float])
    /// Every process's `values` concatenated in rank order, on every process.
    func allGather(_ values: [Float]) -> [Float]
    /// `values` of process `root` on every process (the others' length must match).
    func broadcast(_ values: inout [Float], root: Int)
    /// Returns when every process has called it (after the first process wrote a file the others
    /// read next).
    func barrier()
}

extension Collective {
    public var isRoot: Bool { rank == 0 }

    /// The first process's `value` on every process: a decision taken once (is there a checkpoint
    /// to resume, is a file already written) that every process then follows, so none takes
    /// another branch on a filesystem that answers differently on another host.
    public func firstDecides(_ value: Bool) -> Bool {
        guard size > 1 else { return value }
        var v: [Float] = [value ? 1 : 0]
        broadcast(&v, root: 0)
        return v[0] != 0
    }

    /// Every process's `text`, in rank order, on every process (reports, lists of failures).
    public func allGather(text: String) -> [String] {
        let bytes = Array(text.utf8)
        // Exact lengths (a float holds integers exactly only to 2^24): each process fills its slot.
        var slots = [Int](repeating: 0, count: size)
        slots[rank] = bytes.count
        let lengths = allSum(slots)
        let all = allGather(bytes.map(Float.init))      // bytes are exact in a float
        var out: [String] = [], offset = 0
        for n in lengths {
            out.append(String(decoding: all[offset..<(offset + n)].map { UInt8($0) }, as: UTF8.self))
            offset += n
        }
        return out
    }

    /// Sums integers over the processes (exact: counts far below 2^53).
    public func allSum(_ values: [Int]) -> [Int] {
        var d = values.map(Double.init)
        allSum(&d)
        return d.map { Int($0.rounded()) }
    }

}

/// The world of one process: every collective is the identity.
public final class SingleProcess: Collective {
    public init() {}
    public var rank: Int { 0 }
    public var size: Int { 1 }
    public func allSum(_ values: inout [Double]) {}
    public func allSum(_ values: inout [Float]) {}
    public func allGather(_ values: [Float]) -> [Float] { values }
    public func broadcast(_ values: inout [Float], root: Int) {}
    public func barrier() {}
}

extension Tensor {
    /// The rows (first axis) of this tensor on every process, concatenated in rank order, on every
    /// process; the other axes must agree. Made for a loss that every process computes alike on the
    /// whole batch (contrastive losses, whose negatives come from every process): each process's
    /// gradient of the gathered tensor is then the same, and its own rows' part is exactly its
    /// rows' gradient, so the backward pass needs no communication.
    public func gathered(_ collective: Collective) -> Tensor {
        guard collective.size > 1 else { return self }
        let rowSize = shape.dropFirst().reduce(1, *)
        let rows = collective.allGather([Float(shape[0])]).map { Int($0) }
        let offset = rows[..<collective.rank].reduce(0, +) * rowSize
        let all = collective.allGather(data)
        let input = self
        return Autograd.record(Tensor(shape: [rows.reduce(0, +)] + Array(shape.dropFirst()), data: all), inputs: [self]) { r in
            guard input.requiresGrad else { return }
            input.accumulateGrad(Array(r.grad![offset..<(offset + input.count)]))
        }
    }
}

extension Module {
    /// Synchronised batch norm: every `BatchNorm` below this module takes its training statistics
    /// over all the processes of `collective` (nil: each process's own batch again).
    public func synchronizeBatchNorm(_ collective: Collective?) {
        for (_, m) in namedModules() { (m as? BatchNorm)?.collective = collective }
    }
}
