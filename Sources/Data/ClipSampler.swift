import Engine
import Flow
import Foundation
import Media

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

    /// The frame cache's key of an item's frames: its flow file, or its video at `shortSide`.
    func cacheKey(_ item: VideoDataset.Item) -> String {
        if case .flow(let root) = modality { return "flow:" + FlowVideo.base(root: root, split: item.split, id: item.id) }
        return "\(item.path)@\(shortSide)"
    }

    /// Decodes (or takes from the cache) a whole video at `shortSide`: RGB24 frames, or for flow
    /// interleaved (x, y) bytes at the extracted size.
    public func frames(of item: VideoDataset.Item, cache: FrameCache?) throws -> FrameCache.Video {
        if case .flow(let root) = modality {
            let base = FlowVideo.base(root: root, split: item.split, id: item.id), key = cacheKey(item)
            if let v = cache?.get(key) { return v }
            let (record, planes) = try FlowVideo.read(base: base)
            guard !planes.isEmpty else { throw FlowError(path: FlowVideo.videoPath(base), message: "no flow frames") }
            let v = FrameCache.Video(width: record.width, height: record.height, frames: planes.map(Self.interleaved))
            cache?.put(key, v)
            return v
        }
        let key = cacheKey(item)
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

    static func interleaved(_ p: (x: [UInt8], y: [UInt8])) -> [UInt8] {
        var f = [UInt8](repeating: 0, count: 2 * p.x.count)
        for i in 0..<p.x.count { f[2 * i] = p.x[i]; f[2 * i + 1] = p.y[i] }
        return f
    }

    /// One video's frames as a sample reads them: how many decode, their size, and the frames at
    /// some indices (ascending, each once).
    struct Source {
        var count: Int
        var width: Int
        var height: Int
        var fetch: ([Int]) throws -> [Int: [UInt8]]
    }

    /// Whole videos from the frame cache, or decoded whole into it until it is full (small datasets
    /// fit); otherwise, with an index, only the frames a sample uses (from the keyframe before the
    /// first to the last, converting only those). Both give the same pixels.
    func source(of item: VideoDataset.Item, cache: FrameCache?, index: FrameIndex?) throws -> Source {
        func whole() throws -> Source {
            let v = try frames(of: item, cache: cache)
            return Source(count: v.frames.count, width: v.width, height: v.height) { idx in
                Dictionary(uniqueKeysWithValues: idx.map { ($0, v.frames[$0]) })
            }
        }
        guard let index, cache?.isFull ?? true else { return try whole() }
        if let cache, cache.contains(cacheKey(item)) { return try whole() }
        if case .flow(let root) = modality {
            let base = FlowVideo.base(root: root, split: item.split, id: item.id)
            let entry = try index.entry(for: FlowVideo.videoPath(base))
            let (w, h) = (entry.width, entry.height / 2)
            guard entry.table.count > 0 else { throw FlowError(path: FlowVideo.videoPath(base), message: "no flow frames") }
            return Source(count: entry.table.count, width: w, height: h) { idx in
                try FlowVideo.read(base: base, frames: idx, table: entry.table).frames.mapValues(Self.interleaved)
            }
        }
        let entry = try index.entry(for: item.path)
        let (w, h) = FrameSize.shortSide(shortSide).target(width: entry.width, height: entry.height)
        guard entry.table.count > 0 else { throw MediaError.notAVideo(path: item.path, detail: "no frame decodes") }
        let path = item.path, size = FrameSize.shortSide(shortSide)
        return Source(count: entry.table.count, width: w, height: h) { idx in
            let got = try VideoReader(path: path).frames(idx, size: size, table: entry.table).frames
            var out: [Int: [UInt8]] = [:]
            for f in got {
                guard f.width == w && f.height == h else {
                    throw MediaError.ffmpeg(path: path, operation: "decoding frame \(f.index)",
                                            detail: "it is \(f.width)x\(f.height), the video's first frames \(w)x\(h)")
                }
                out[f.index] = f.pixels
            }
            if let missing = idx.first(where: { out[$0] == nil }) {
                throw MediaError.ffmpeg(path: path, operation: "decoding frame \(missing)",
                                        detail: "the video ended first (the frame index says \(entry.table.count) frames; rebuilt when the file changes)")
            }
            return out
        }
    }

    /// The input values of one video: one training clip, or all its test views (view-major:
    /// clip index outer, crop index inner). Randomness comes only from `generator`. With `index`,
    /// a video not in the cache is decoded only as far as the sample needs.
    public func sample(_ item: VideoDataset.Item, cache: FrameCache?, index: FrameIndex? = nil,
                       generator g: inout SeededGenerator) throws -> [Float] {
        let video = try source(of: item, cache: cache, index: index)
        let n = video.count
        // Every clip's frame indices first, then one decode for all of them.
        func frames(_ clips: [[Int]]) throws -> [ClipPixels] {
            let all = try video.fetch(Array(Set(clips.joined())).sorted())
            return clips.map { idx in
                let f = idx.map { all[$0]! }
                return modality != .rgb ? ClipPixels(flowFrames: f, width: video.width, height: video.height)
                    : ClipPixels(rgbFrames: f, width: video.width, height: video.height)
            }
        }
        func indices(start: Int, spec: ClipSpec? = nil) -> [Int] {
            (spec ?? clip).indices(start: start, frameCount: n, policy: overflow)
        }
        switch mode {
        case .train(var config):
            if modality != .rgb { config.flowXChannel = 0 }  // a flip negates x
            let start = clip.randomStart(frameCount: n, generator: &g)
            let pixels = try frames([indices(start: start)])[0]
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
            var clips = [indices(start: start)]
            for j in 0..<local {
                // Local clip j lines up with the global clip's frame j x frames / local (TCLR: start + 16 j).
                clips.append(indices(start: start + j * clip.skip * clip.frames / local, spec: localSpec))
            }
            var out: [Float] = []
            for pixels in try frames(clips) {
                for _ in 0..<2 {
                    let aug = Augmentation.draw(config, width: video.width, height: video.height, generator: &g)
                    out += aug.apply(pixels, config: config).tensorLayout(normalisation)
                }
            }
            return out
        case .test(let crops, let clips, let rule, let cropRule, let size):
            var out: [Float] = []
            for pixels in try frames(rule.starts(frameCount: n, clip: clip, clips: clips).map { indices(start: $0) }) {
                for c in 0..<crops {
                    out += TestCrop.apply(pixels, index: c, of: crops, size: size, rule: cropRule).tensorLayout(normalisation)
                }
            }
            return out
        }
    }
}

