import CMPI
import Engine
import Foundation

/// The processes of a job started by Open MPI's `mpirun`, as the engine's `Collective`.
///
/// MPI is started only when the process was launched by mpirun (its environment says so): a plain
/// `vipbench` run never touches MPI and works exactly as a single process. Every call goes through
/// MPI_COMM_WORLD from the thread that started MPI (the loader's workers never call it).
public final class MPIWorld: Collective {
    public let rank: Int
    public let size: Int
    /// Ranks on this host and this rank's index among them (to share the cores without
    /// oversubscribing them).
    public let localSize: Int
    public let localRank: Int
    /// The host of every rank, in rank order.
    public let hosts: [String]
    private let comm: MPI_Comm
    private var finalized = false

    /// The elements one MPI_Allreduce call carries at most: gradients go in buckets of this many
    /// floats (MPI's counts are 32-bit, and a bounded bucket bounds the transient memory).
    public static let bucketElements = 1 << 22

    /// True when this process was started by mpirun (Open MPI's or a PMIx launcher's variables).
    public static func launchedByMPI(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> Bool {
        environment["OMPI_COMM_WORLD_SIZE"] != nil || environment["PMIX_RANK"] != nil
    }

    /// Starts MPI (once per process). Fails with MPI's message when it cannot.
    public init() throws {
        var provided: Int32 = 0
        let rc = MPI_Init_thread(nil, nil, vip_mpi_thread_serialized(), &provided)
        guard rc == MPI_SUCCESS else { throw DistributedError.mpi(call: "MPI_Init_thread", code: rc) }
        comm = vip_mpi_comm_world()
        var r: Int32 = 0, s: Int32 = 0
        MPI_Comm_rank(comm, &r)
        MPI_Comm_size(comm, &s)
        rank = Int(r); size = Int(s)
        let env = ProcessInfo.processInfo.environment
        localSize = env["OMPI_COMM_WORLD_LOCAL_SIZE"].flatMap(Int.init) ?? 1
        localRank = env["OMPI_COMM_WORLD_LOCAL_RANK"].flatMap(Int.init) ?? 0
        // Every rank's host name, gathered (fixed-width records).
        let width = Int(vip_mpi_max_processor_name())
        var name = [CChar](repeating: 0, count: width)
        var length: Int32 = 0
        MPI_Get_processor_name(&name, &length)
        var all = [CChar](repeating: 0, count: width * Int(s))
        MPI_Allgather(&name, Int32(width), vip_mpi_char(), &all, Int32(width), vip_mpi_char(), comm)
        hosts = (0..<Int(s)).map { i in
            let record = all[(i * width)..<((i + 1) * width)].prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
            return String(decoding: record, as: UTF8.self)
        }
    }

    public func allSum(_ values: inout [Double]) {
        reduce(&values, type: vip_mpi_double())
    }

    public func allSum(_ values: inout [Float]) {
        reduce(&values, type: vip_mpi_float())
    }

    private func reduce<T>(_ values: inout [T], type: MPI_Datatype) {
        inBuckets(&values) { start, n in
            check(MPI_Allreduce(vip_mpi_in_place(), start, Int32(n), type, vip_mpi_sum(), comm), "MPI_Allreduce")
        }
    }

    /// Calls `body` on consecutive pieces of at most `bucketElements` (MPI's counts are 32-bit).
    private func inBuckets<T>(_ values: inout [T], _ body: (UnsafeMutablePointer<T>, Int) -> Void) {
        guard size > 1, !values.isEmpty else { return }
        values.withUnsafeMutableBufferPointer { b in
            var start = 0
            while start < b.count {
                let n = min(Self.bucketElements, b.count - start)
                body(b.baseAddress! + start, n)
                start += n
            }
        }
    }

    public func allGather(_ values: [Float]) -> [Float] {
        guard size > 1 else { return values }
        var mine = Int32(values.count)
        var counts = [Int32](repeating: 0, count: size)
        check(MPI_Allgather(&mine, 1, vip_mpi_int(), &counts, 1, vip_mpi_int(), comm), "MPI_Allgather")
        var offsets = [Int32](repeating: 0, count: size)
        for i in 1..<size { offsets[i] = offsets[i - 1] + counts[i - 1] }
        var out = [Float](repeating: 0, count: Int(offsets[size - 1] + counts[size - 1]))
        var input = values
        check(MPI_Allgatherv(&input, mine, vip_mpi_float(), &out, &counts, &offsets, vip_mpi_float(), comm), "MPI_Allgatherv")
        return out
    }

    public func broadcast(_ values: inout [Float], root: Int) {
        inBuckets(&values) { start, n in
            check(MPI_Bcast(start, Int32(n), vip_mpi_float(), Int32(root), comm), "MPI_Bcast")
        }
    }

    public func barrier() {
        guard size > 1 else { return }
        check(MPI_Barrier(comm), "MPI_Barrier")
    }

    /// Ends the whole job (every rank) with `code`, after this rank has said why on stderr.
    public func abort(code: Int32) -> Never {
        MPI_Abort(comm, code)
        exit(code)
    }

    /// Ends MPI in an orderly way (every rank calls it once, at the end).
    public func finalize() {
        guard !finalized else { return }
        finalized = true
        MPI_Finalize()
    }

    /// Open MPI's default handler aborts the job on an error in a collective, so a failed call
    /// here is a broken invariant of our own (bad counts), not a lost peer.
    private func check(_ rc: Int32, _ call: String) {
        guard rc == MPI_SUCCESS else {
            FileHandle.standardError.write(Data("vipbench rank \(rank): \(call) failed with MPI error \(rc)\n".utf8))
            abort(code: 70)
        }
    }
}

public enum DistributedError: Error, CustomStringConvertible {
    case mpi(call: String, code: Int32)
    public var description: String {
        switch self {
        case .mpi(let call, let code): return "\(call) failed with MPI error \(code)"
        }
    }
}

/// Which items of a list are this rank's: item i goes to rank i mod size. Stable for a given
/// list and world size, so a restarted job with the same size gives every rank the same items
/// (and each skips what it already finished).
public func shard<T>(_ items: [T], rank: Int, size: Int) -> [T] {
    precondition(size >= 1 && (0..<size).contains(rank))
    return items.enumerated().filter { $0.offset % size == rank }.map(\.element)
}
