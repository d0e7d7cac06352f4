import Foundation

/// A clip: `frames` frames taking every `skip`-th frame ("16x2": 16 frames spanning 31).
public struct ClipSpec: Equatable, Sendable, CustomStringConvertible {
    public var frames: Int
    public var skip: Int

    public init(frames: Int, skip: Int) {
        precondition(frames >= 1 && skip >= 1, "a clip has at least one frame and a skip of at least 1")
        self.frames = frames; self.skip = skip
    }

    /// Parses "16x2".
    public init?(_ text: String) {
        let p = text.lowercased().split(separator: "x").map { Int($0) }
        guard p.count == 2, let f = p[0], let s = p[1], f >= 1, s >= 1 else { return nil }
        self.init(frames: f, skip: s)
    }

    /// Frames from the first to the last index of the clip, inclusive.
    public var span: Int { (frames - 1) * skip + 1 }
    public var description: String { "\(frames)x\(skip)" }
}

/// How test clips are placed in a video (protocols.md). Recorded with every result.
public enum TestSamplingRule: String, CaseIterable, Codable, Sendable {
    /// SlowFast with offset sampling (MViT): clip i starts at i * floor(delta / (n - 1)); n = 1: floor(delta / 2).
    case slowfastOffset = "slowfast-offset"
    /// SlowFast without offsets (its ResNet configs): start = floor(delta * i / n).
    case slowfastUniform = "slowfast-uniform"
    /// mmaction2: start = round(i * delta / (n - 1)), Python's round (half to even); n = 1: round(delta / 2).
    case mmaction
    /// TCLR's own test: starts linspace(0, N - 32 - 10, n) truncated to integers, clamped at 0.
    case tclr

    /// Start indices of `n` test clips in a video of `frameCount` frames (delta = max(N - span, 0)).
    public func starts(frameCount: Int, clip: ClipSpec, clips n: Int) -> [Int] {
        precondition(n >= 1, "at least one clip")
        let delta = max(frameCount - clip.span, 0)
        switch self {
        case .slowfastOffset:
            if n == 1 { return [delta / 2] }
            return (0..<n).map { $0 * (delta / (n - 1)) }
        case .slowfastUniform:
            return (0..<n).map { delta * $0 / n }
        case .mmaction:
            if n == 1 { return [Int((Double(delta) / 2).rounded(.toNearestOrEven))] }
            return (0..<n).map { Int((Double($0 * delta) / Double(n - 1)).rounded(.toNearestOrEven)) }
        case .tclr:
            let end = Double(frameCount - 32 - 10)
            if n == 1 { return [0] }
            return (0..<n).map { max(0, Int(end * Double($0) / Double(n - 1))) }
        }
    }
}

/// What to do with clip indices past the last frame.
public enum OverflowPolicy: String, CaseIterable, Codable, Sendable {
    /// Wrap around to the start (mmaction2's "loop").
    case loop
    /// Repeat the last frame.
    case repeatLast = "repeat-last"
    /// Reflect back from the end: N-2, N-3, ... (period 2N - 2).
    case mirror

    public func index(_ i: Int, frameCount n: Int) -> Int {
        precondition(n >= 1, "a video with no frames")
        if i < n { return max(i, 0) }
        switch self {
        case .loop: return i % n
        case .repeatLast: return n - 1
        case .mirror:
            if n == 1 { return 0 }
            let period = 2 * n - 2
            let r = i % period
            return r < n ? r : period - r
        }
    }
}

extension ClipSpec {
    /// The frame indices of a clip starting at `start`, with indices past the end handled by `policy`.
    public func indices(start: Int, frameCount: Int, policy: OverflowPolicy) -> [Int] {
        (0..<frames).map { policy.index(start + $0 * skip, frameCount: frameCount) }
    }

    /// A training clip's start: uniform over every start that fits (0 when the video is shorter).
    public func randomStart<G: RandomNumberGenerator>(frameCount: Int, generator: inout G) -> Int {
        let last = max(frameCount - span, 0)
        return Int.random(in: 0...last, using: &generator)
    }
}

/// A view: which temporal clip and which spatial crop ("3x10" is 30 views per video).
public struct View: Equatable, Hashable, Sendable {
    public var clip: Int
    public var crop: Int
    public init(clip: Int, crop: Int) { self.clip = clip; self.crop = crop }
}
