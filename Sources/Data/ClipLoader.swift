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

    func put(_ key: String, _ v: Video) {
        let size = v.frames.reduce(0) { $0 + $1.count }
        guard size <= budget else { return }
        lock.lock(); defer { lock.unlock() }
        tick += 1
        if let old = entries[key] { bytes -= old.bytes }
        entries[key] = (v, size, tick)
        bytes += size
        while bytes > budget, let victim = entries.min(by: { $0.value.tick < $1.value.tick }) {
            bytes -= victim.value.bytes
            entries.removeValue(forKey: victim.key)
        }
    }
}

/// What a clip is made of.
public enum Modality: Equatable, Sendable {
    /// Decoded RGB frames, values in [0, 1] before normalisation.
    case rgb
    /// Extracted TV-L1 flow (`vipbench flow extract`): `root/<split>/<videoid>.mkv`, 2 channels
    /// (x, y) in [-1, 1] (q / 255 x 2 - 1), one frame per frame pair. Crops and resizes treat
    /// flow as pictures (values are not rescaled, as mmaction2 does); a flip negates x. Flow is
    /// read at its extracted size (`shortSide` is ignored); use `.unit` normalisation.
    case flow(root: String)

    public var channels: Int { self == .rgb ? 3 : 2 }
}

/// Turns dataset items into network inputs: training clips with augmentation, or every test view.
public struct ClipSampler: Sendable {
    public enum Mode: Sendable {
        case train(AugmentationConfig)
        /// TCLR's pretraining clips: one global clip (`clip`, 16x4 in the report) and `localClips`
        /// clips of `clip.frames` consecutive frames spread over its span (local clip j starts at
        /// the global clip's frame j x frames / localClips: 16 j in the report), each augmented twice
        /// independently. Views: global aug 0, global aug 1, then local j aug 0, local j aug 1.
        case tclr(AugmentationConfig, localClips: Int)
        /// `crops` x `clips` views: spatial crops of `size` after resizing the short side to `size`.
        case test(crops: Int, clips: Int, rule: TestSamplingRule, cropRule: CropRule, size: Int)
    }

    public var clip: ClipSpec
    /// Frames are decoded with their short side at this size.
    public var shortSide: Int
    public var mode: Mode
    public var overflow: OverflowPolicy = .loop
    public var normalisation: Normalisation = .unit
    public var modality: Modality = .rgb
    /// Repeated augmentation (training): this many independently augmented copies of one clip.
    public var augmentedCopies = 1

    public init(clip: ClipSpec, shortSide: Int, mode: Mode, overflow: OverflowPolicy = .loop, normalisation: Normalisation = .unit,
                modality: Modality = .rgb) {
        self.clip = clip; self.shortSide = shortSide; self.mode = mode; self.overflow = overflow; self.normalisation = normalisation
        self.modality = modality
    }

    /// Values per view: C x T x H x W.
    public var viewShape: [Int] {
        switch mode {
        case .train(let a), .tclr(let a, _): return [modality.channels, clip.frames, a.outputSize, a.outputSize]
        case .test(_, _, _, _, let s): return [modality.channels, clip.frames, s, s]
        }
    }

    public var viewsPerVideo: Int {
        switch mode {
        case .test(let c, let t, _, _, _): return c * t
        case .tclr(_, let local): return 2 * (1 + local)
        case .train: return augmentedCopies
        }
    }

    /// Decodes (or takes from the cache) a whole video at `shortSide`: RGB24 frames, or for flow
    /// interleaved (x, y) bytes at the extracted size.
    public func frames(of item: VideoDataset.Item, cache: FrameCache?) throws -> FrameCache.Video {
        if case .flow(let root) = modality {
            let base = "\(root)/\(item.split)/\(item.id)"
            let key = "flow:\(base)"
            if let v = cache?.get(key) { return v }
            let (record, planes) = try FlowVideo.read(base: base)
            guard !planes.isEmpty else { throw FlowError(path: FlowVideo.videoPath(base), message: "no flow frames") }
            let frames: [[UInt8]] = planes.map { p in
                var f = [UInt8](repeating: 0, count: 2 * p.x.count)
                for i in 0..<p.x.count { f[2 * i] = p.x[i]; f[2 * i + 1] = p.y[i] }
                return f
            }
            let v = FrameCache.Video(width: record.width, height: record.height, frames: frames)
            cache?.put(key, v)
            return v
        }
        let key = "\(item.path)@\(shortSide)"
        if let v = cache?.get(key) { return v }
        let reader = try VideoReader(path: item.path)
        var frames: [[UInt8]] = []
        var size = (0, 0)
        try reader.decode(size: .shortSide(shortSide)) { f in
            frames.append(f.pixels); size = (f.width, f.height); return true
        }
        guard !frames.isEmpty else { throw MediaError.notAVideo(path: item.path, detail: "no frame decodes") }
        let v = FrameCache.Video(width: size.0, height: size.1, frames: frames)
        cache?.put(key, v)
        return v
    }

    /// The input values of one video: one training clip, or all its test views (view-major:
    /// clip index outer, crop index inner). Randomness comes only from `generator`.
    public func sample(_ item: VideoDataset.Item, cache: FrameCache?, generator g: inout SeededGenerator) throws -> [Float] {
        let video = try frames(of: item, cache: cache)
        let n = video.frames.count
        func clipPixels(start: Int, spec: ClipSpec? = nil) -> ClipPixels {
            let idx = (spec ?? clip).indices(start: start, frameCount: n, policy: overflow)
            if modality != .rgb { return ClipPixels(flowFrames: idx.map { video.frames[$0] }, width: video.width, height: video.height) }
            return ClipPixels(rgbFrames: idx.map { video.frames[$0] }, width: video.width, height: video.height)
        }
        switch mode {
        case .train(var config):
            if modality != .rgb { config.flowXChannel = 0 }  // a flip negates x
            let start = clip.randomStart(frameCount: n, generator: &g)
            let pixels = clipPixels(start: start)
            var out: [Float] = []
            for _ in 0..<augmentedCopies {
                let aug = Augmentation.draw(config, width: video.width, height: video.height, generator: &g)
                out += aug.apply(pixels, config: config).tensorLayout(normalisation)
            }
            return out
        case .tclr(var config, let local):
            if modality != .rgb { config.flowXChannel = 0 }
            let start = clip.randomStart(frameCount: n, generator: &g)
            let localSpec = ClipSpec(frames: clip.frames, skip: 1)
            var clips = [clipPixels(start: start)]
            for j in 0..<local {
                // Local clip j lines up with the global clip's frame j x frames / local (TCLR: start + 16 j).
                clips.append(clipPixels(start: start + j * clip.skip * clip.frames / local, spec: localSpec))
            }
            var out: [Float] = []
            for pixels in clips {
                for _ in 0..<2 {
                    let aug = Augmentation.draw(config, width: video.width, height: video.height, generator: &g)
                    out += aug.apply(pixels, config: config).tensorLayout(normalisation)
                }
            }
            return out
        case .test(let crops, let clips, let rule, let cropRule, let size):
            var out: [Float] = []
            for start in rule.starts(frameCount: n, clip: clip, clips: clips) {
                let pixels = clipPixels(start: start)
                for c in 0..<crops {
                    out += TestCrop.apply(pixels, index: c, of: crops, size: size, rule: cropRule).tensorLayout(normalisation)
                }
            }
            return out
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

    public init(items: [VideoDataset.Item], sampler: ClipSampler, batchSize: Int, workers: Int = 2, prefetchBatches: Int = 2,
                seed: UInt64, shuffle: Bool, cacheBytes: Int = 0) {
        precondition(batchSize >= 1 && workers >= 1 && prefetchBatches >= 1)
        dataset = items; self.sampler = sampler; self.batchSize = batchSize; self.workers = workers
        self.prefetchBatches = prefetchBatches; self.seed = seed; self.shuffle = shuffle
        cache = cacheBytes > 0 ? FrameCache(budgetBytes: cacheBytes) : nil
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

    init(loader: ClipLoader, epoch: Int, firstBatch: Int) {
        self.loader = loader
        order = loader.order(epoch: epoch)
        batchCount = (order.count + loader.batchSize - 1) / loader.batchSize
        position = Swift.min(Swift.max(firstBatch, 0), batchCount)
        // The prefetch window is a counter in the epoch's state, not a DispatchSemaphore:
        // libdispatch traps when a semaphore is released below its initial value, which an
        // epoch abandoned midway would do.
        state = LoaderState(window: loader.prefetchBatches * loader.batchSize)
        state.skip(to: position * loader.batchSize)
        // Workers take sample positions in order, and never run more than the prefetch window ahead.
        for _ in 0..<loader.workers {
            state.workerStarted()
            Thread { [order, state, loader] in
                defer { state.workerFinished() }
                while true {
                    guard let pos = state.claim(limit: order.count) else { return }
                    let index = order[pos]
                    let item = loader.dataset[index]
                    var g = SeededGenerator(seed: loader.seed).derived("sample/\(epoch)/\(index)")
                    let result: Result<[Float], Error> = Result { try loader.sampler.sample(item, cache: loader.cache, generator: &g) }
                    state.deliver(pos, result)
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
        guard position < batchCount, !state.isCancelled else { return nil }
        let size = loader.batchSize
        let per = loader.sampler.viewShape.reduce(1, *) * loader.sampler.viewsPerVideo
        let lo = position * size, hi = Swift.min(order.count, lo + size)
        position += 1
        var data: [Float] = []
        data.reserveCapacity((hi - lo) * per)
        var indices: [Int] = [], labels: [Int?] = [], failures: [(String, String)] = []
        for pos in lo..<hi {
            let r = state.take(pos)
            let item = loader.dataset[order[pos]]
            switch r {
            case .success(let values): data += values; indices.append(order[pos]); labels.append(item.label)
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
