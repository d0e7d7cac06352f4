import Engine
import Flow
import Foundation
import Media

/// Decoded, resized frames of whole videos, shared by the loader's workers, bounded in bytes
/// (least recently used first out).
public final class FrameCache: @unchecked Sendable {
    public struct Video: Sendable { public var width: Int; public var height: Int; public var frames: [[UInt8]] }
    private var entries: [String: (video: Video, bytes: Int, tick: Int)] = [:]
    private var bytes = 0, tick = 0
    private let lock = NSLock()
    public let budget: Int
    public private(set) var hits = 0, misses = 0

    public init(budgetBytes: Int) { budget = budgetBytes }

    func get(_ key: String) -> Video? {
        lock.lock(); defer { lock.unlock() }
        guard var e = entries[key] else { misses += 1; return nil }
        tick += 1; e.tick = tick; entries[key] = e
        hits += 1
        return e.video
    }

    func contains(_ key: String) -> Bool {
        lock.lock(); defer { lock.unlock() }
        return entries[key] != nil
    }

    /// Whether the cache has had to evict or refuse a video. Until then the loader decodes whole
    /// videos into it (small datasets fit); after, only the frames each clip needs.
    public var isFull: Bool { lock.lock(); defer { lock.unlock() }; return full }
    private var full = false

    func put(_ key: String, _ v: Video) {
        let size = v.frames.reduce(0) { $0 + $1.count }
        lock.lock(); defer { lock.unlock() }
        guard size <= budget else { full = true; return }
        tick += 1
        if let old = entries[key] { bytes -= old.bytes }
        entries[key] = (v, size, tick)
        bytes += size
        while bytes > budget, let victim = entries.min(by: { $0.value.tick < $1.value.tick }) {
            full = true
            bytes -= victim.value.bytes
            entries.removeValue(forKey: victim.key)
        }
    }
}

/// A batch: `items` videos' inputs stacked (B x views x C x T x H x W, views = 1 in training).
public struct ClipBatch: Sendable {
    public var indices: [Int]
    public var labels: [Int?]
    public var shape: [Int]
    public var data: [Float]
    /// Videos of this batch that could not be read, with the reason (they are left out).
    public var failures: [(id: String, reason: String)]

    public init(indices: [Int], labels: [Int?], shape: [Int], data: [Float], failures: [(id: String, reason: String)] = []) {
        self.indices = indices; self.labels = labels; self.shape = shape; self.data = data; self.failures = failures
    }
}

/// Decodes and augments clips on worker threads, a bounded number of batches ahead, and hands
/// out batches in a fixed order. Sample i of epoch e draws its randomness from a generator derived
/// from (seed, e, i), so the batches are bit-identical whatever the thread timing.
public final class ClipLoader: @unchecked Sendable {
    public let dataset: [VideoDataset.Item]
    public let sampler: ClipSampler
    public let batchSize: Int
    public let workers: Int
    public let prefetchBatches: Int
    public let seed: UInt64
    public let shuffle: Bool
    public let cache: FrameCache?
    /// Where each video's frames are, so a clip decodes only what it needs (nil: whole videos).
    public let frameIndex: FrameIndex?
    /// Which part of every batch this process loads (data-parallel training: the whole batch is
    /// `batchSize`; rank r of n gets its r-th contiguous part).
    public let shard: Shard

    /// Part `rank` of `count` (0 of 1: everything).
    public struct Shard: Sendable, Equatable {
        public var rank: Int
        public var count: Int
        public init(rank: Int, count: Int) {
            precondition(count >= 1 && (0..<count).contains(rank), "shard \(rank) of \(count)")
            self.rank = rank; self.count = count
        }
        public static let whole = Shard(rank: 0, count: 1)

        /// This shard's part of the positions `range` (a batch).
        public func part(of range: Range<Int>) -> Range<Int> {
            let n = range.count
            return (range.lowerBound + rank * n / count)..<(range.lowerBound + (rank + 1) * n / count)
        }
    }

    public init(items: [VideoDataset.Item], sampler: ClipSampler, batchSize: Int, workers: Int = 2, prefetchBatches: Int = 2,
                seed: UInt64, shuffle: Bool, cacheBytes: Int = 0, frameIndex: FrameIndex? = nil, shard: Shard = .whole) {
        precondition(batchSize >= 1 && workers >= 1 && prefetchBatches >= 1)
        dataset = items; self.sampler = sampler; self.batchSize = batchSize; self.workers = workers
        self.prefetchBatches = prefetchBatches; self.seed = seed; self.shuffle = shuffle
        cache = cacheBytes > 0 ? FrameCache(budgetBytes: cacheBytes) : nil
        self.frameIndex = frameIndex
        self.shard = shard
    }

    /// The order of samples in an epoch (a seeded Fisher-Yates shuffle when `shuffle`).
    public func order(epoch: Int) -> [Int] {
        var o = Array(dataset.indices)
        guard shuffle else { return o }
        var g = SeededGenerator(seed: seed).derived("order/\(epoch)")
        for i in stride(from: o.count - 1, to: 0, by: -1) { o.swapAt(i, g.int(below: i + 1)) }
        return o
    }

    /// The batches of one epoch from batch `firstBatch` on (a resumed run skips the batches it
    /// already trained on without decoding them), produced in the background. Dropping the
    /// returned sequence (or `cancel()`) stops its workers: an epoch abandoned early leaves no
    /// thread blocked.
    public func batches(epoch: Int, from firstBatch: Int = 0) -> EpochBatches {
        EpochBatches(loader: self, epoch: epoch, firstBatch: firstBatch)
    }

    /// Batches per epoch.
    public var batchCount: Int { (dataset.count + batchSize - 1) / batchSize }
}

/// One epoch's batches, in order; its workers stop when it is cancelled or released.
public final class EpochBatches: Sequence, IteratorProtocol, @unchecked Sendable {
    let loader: ClipLoader
    let order: [Int]
    let state: LoaderState
    private var position: Int
    private let batchCount: Int
    /// The epoch's sample positions this shard loads, batch after batch, and where each batch's
    /// begin in that list (one more entry at the end).
    private let mine: [Int]
    private let batchStarts: [Int]

    init(loader: ClipLoader, epoch: Int, firstBatch: Int) {
        self.loader = loader
        order = loader.order(epoch: epoch)
        batchCount = (order.count + loader.batchSize - 1) / loader.batchSize
        var mine: [Int] = [], starts: [Int] = []
        for b in 0..<batchCount {
            starts.append(mine.count)
            mine += loader.shard.part(of: (b * loader.batchSize)..<Swift.min(order.count, (b + 1) * loader.batchSize))
        }
        starts.append(mine.count)
        self.mine = mine; batchStarts = starts
        position = Swift.min(Swift.max(firstBatch, 0), batchCount)
        // The prefetch window is a counter in the epoch's state, not a DispatchSemaphore:
        // libdispatch traps when a semaphore is released below its initial value, which an
        // epoch abandoned midway would do.
        state = LoaderState(window: loader.prefetchBatches * loader.batchSize)
        state.skip(to: starts[position])
        // Workers take sample positions in order, and never run more than the prefetch window ahead.
        for _ in 0..<loader.workers {
            state.workerStarted()
            Thread { [order, mine, state, loader] in
                defer { state.workerFinished() }
                while true {
                    guard let k = state.claim(limit: mine.count) else { return }
                    let index = order[mine[k]]
                    let item = loader.dataset[index]
                    var g = SeededGenerator(seed: loader.seed).derived("sample/\(epoch)/\(index)")
                    let result: Result<[Float], Error> = Result { try loader.sampler.sample(item, cache: loader.cache, index: loader.frameIndex, generator: &g) }
                    state.deliver(k, result)
                }
            }.start()
        }
    }

    /// Worker threads of this epoch still running (0 soon after the epoch ends or is cancelled).
    public var runningWorkers: Int { state.running }

    /// Stops the workers after the samples they are working on; later `next()` calls return nil.
    public func cancel() {
        state.cancel()
    }

    deinit { cancel() }

    public func next() -> ClipBatch? {
        guard position < batchCount, !state.isCancelled else {
            // The entries this epoch added to the frame index; a folder that cannot be written
            // keeps them in memory (the next run builds them again).
            try? loader.frameIndex?.save()
            return nil
        }
        let per = loader.sampler.viewShape.reduce(1, *) * loader.sampler.viewsPerVideo
        let lo = batchStarts[position], hi = batchStarts[position + 1]
        position += 1
        var data: [Float] = []
        data.reserveCapacity((hi - lo) * per)
        var indices: [Int] = [], labels: [Int?] = [], failures: [(String, String)] = []
        for k in lo..<hi {
            let r = state.take(k)
            let index = order[mine[k]]
            let item = loader.dataset[index]
            switch r {
            case .success(let values): data += values; indices.append(index); labels.append(item.label)
            case .failure(let e): failures.append((item.id, "\(e)"))
            }
        }
        return ClipBatch(indices: indices, labels: labels,
                         shape: [indices.count, loader.sampler.viewsPerVideo] + loader.sampler.viewShape,
                         data: data, failures: failures)
    }
}

/// Shared state of one epoch's workers: the next position to claim and the finished samples.
final class LoaderState: @unchecked Sendable {
    private let condition = NSCondition()
    private var nextPosition = 0
    private var done: [Int: Result<[Float], Error>] = [:]
    private var cancelled = false

    func skip(to pos: Int) {
        condition.lock(); nextPosition = max(nextPosition, pos); condition.unlock()
    }

    /// Samples that may be claimed before the consumer takes more (the prefetch window).
    private var slots: Int

    init(window: Int) { slots = window }

    /// Marks the epoch cancelled and wakes every waiting worker.
    func cancel() {
        condition.lock(); cancelled = true; condition.broadcast(); condition.unlock()
    }

    private var workers = 0
    func workerStarted() { condition.lock(); workers += 1; condition.unlock() }
    func workerFinished() { condition.lock(); workers -= 1; condition.unlock() }
    var running: Int { condition.lock(); defer { condition.unlock() }; return workers }

    var isCancelled: Bool { condition.lock(); defer { condition.unlock() }; return cancelled }

    func claim(limit: Int) -> Int? {
        condition.lock(); defer { condition.unlock() }
        while slots == 0 && !cancelled { condition.wait() }
        guard !cancelled, nextPosition < limit else { return nil }
        slots -= 1
        nextPosition += 1
        return nextPosition - 1
    }

    func deliver(_ pos: Int, _ r: Result<[Float], Error>) {
        condition.lock()
        done[pos] = r
        condition.broadcast()
        condition.unlock()
    }

    func take(_ pos: Int) -> Result<[Float], Error> {
        condition.lock(); defer { condition.unlock() }
        while done[pos] == nil { condition.wait() }
        slots += 1
        condition.broadcast()
        return done.removeValue(forKey: pos)!
    }
}
