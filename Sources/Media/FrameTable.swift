import CFFmpeg
import Foundation

/// Where each frame of a video is, as decoding the whole stream in order finds it: how many frames
/// decode (the truth clip indices refer to, never the header's claim), each frame's presentation
/// timestamp and the keyframes. Built once per video (`VideoReader.frameTable()`, a decode without
/// conversion), it lets `VideoReader.frames(_:size:table:)` start at the keyframe before a clip
/// instead of at the start of the video.
public struct FrameTable: Equatable, Sendable {
    public var count: Int
    /// Presentation timestamps (stream time base), one per frame in decoding order; nil when they
    /// cannot index frames (missing or not increasing): then only decoding from the start is exact.
    public var timestamps: [Int64]?
    /// Indices of the keyframes, ascending.
    public var keyframes: [Int]

    public init(count: Int, timestamps: [Int64]?, keyframes: [Int]) {
        self.count = count; self.timestamps = timestamps; self.keyframes = keyframes
    }

    /// The index of the frame with timestamp `pts` in ascending `timestamps`, nil when none has it.
    static func position(of pts: Int64, in timestamps: [Int64]) -> Int? {
        var lo = 0, hi = timestamps.count
        while lo < hi { let mid = (lo + hi) / 2; if timestamps[mid] < pts { lo = mid + 1 } else { hi = mid } }
        return lo < timestamps.count && timestamps[lo] == pts ? lo : nil
    }

    /// The last keyframe at or before frame `index` (0 when none is).
    public func keyframe(before index: Int) -> Int {
        var lo = 0, hi = keyframes.count  // first keyframe > index
        while lo < hi { let mid = (lo + hi) / 2; if keyframes[mid] <= index { lo = mid + 1 } else { hi = mid } }
        return lo == 0 ? 0 : keyframes[lo - 1]
    }
}

/// Stored compactly: timestamps as runs of constant step ([first, step, length]), which is one run
/// for most videos.
extension FrameTable: Codable {
    enum CodingKeys: String, CodingKey { case count, timestampRuns, keyframes }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(count, forKey: .count)
        try c.encode(keyframes, forKey: .keyframes)
        guard let t = timestamps else { try c.encodeNil(forKey: .timestampRuns); return }
        var runs: [[Int64]] = []
        var i = 0
        while i < t.count {
            let step = i + 1 < t.count ? t[i + 1] - t[i] : 0
            var j = i + 1
            while j + 1 < t.count && t[j + 1] - t[j] == step { j += 1 }
            let length = min(j, t.count - 1) - i + 1
            runs.append([t[i], step, Int64(length)])
            i += length
        }
        try c.encode(runs, forKey: .timestampRuns)
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        count = try c.decode(Int.self, forKey: .count)
        keyframes = try c.decode([Int].self, forKey: .keyframes)
        guard let runs = try c.decodeIfPresent([[Int64]].self, forKey: .timestampRuns) else { timestamps = nil; return }
        func corrupt(_ why: String) -> DecodingError { .dataCorruptedError(forKey: .timestampRuns, in: c, debugDescription: why) }
        guard count >= 0, zip(keyframes, keyframes.dropFirst()).allSatisfy({ $0 < $1 }), keyframes.allSatisfy({ $0 >= 0 && $0 < count }) else {
            throw corrupt("keyframes must be ascending frame indices below \(count)")
        }
        var t: [Int64] = []
        t.reserveCapacity(count)
        for r in runs {
            guard r.count == 3, r[2] >= 1, r[2] <= Int64(count - t.count) else { throw corrupt("a run is [first, step >= 1, length >= 1] within \(count) frames") }
            guard r[1] >= 1 || r[2] == 1 else { throw corrupt("timestamps must increase") }
            for k in 0..<r[2] {
                let (step, o1) = k.multipliedReportingOverflow(by: r[1])
                let (value, o2) = r[0].addingReportingOverflow(step)
                guard !o1, !o2, t.last.map({ value > $0 }) ?? true else { throw corrupt("timestamps must increase without overflowing") }
                t.append(value)
            }
        }
        guard t.count == count else { throw corrupt("\(t.count) timestamps for \(count) frames") }
        timestamps = t
    }
}

extension VideoReader {
    /// Decodes the whole stream without converting a frame and tells where each frame is.
    public func frameTable() throws -> (table: FrameTable, warnings: [DecodeWarning]) {
        var times: [Int64] = [], keys: [Int] = []
        var indexable = true
        let warnings = try decodeFrames(threads: 1, from: nil) { frame, index in
            // Only the frame's own timestamp indexes it: FFmpeg's best guess for a frame without
            // one depends on what was decoded before, which differs after a seek.
            let pts = frame.pointee.best_effort_timestamp
            if pts == vip_av_nopts_value() || pts != frame.pointee.pts || times.last.map({ pts <= $0 }) == true { indexable = false }
            times.append(pts)
            if vip_frame_is_key(frame) != 0 { keys.append(index) }
            return true
        }
        return (FrameTable(count: times.count, timestamps: indexable ? times : nil, keyframes: keys), warnings)
    }

    /// The frames at `wanted` (ascending, each once), converted to `size`; frames in between are
    /// decoded but not converted, and decoding stops after the last one wanted. With a `table` whose
    /// timestamps index the frames, decoding starts at the keyframe at or before the first frame
    /// wanted, and H.264 skips the non-reference frames not wanted; without a table, or when
    /// what the decoder gives does not match it (counted in `seekFallbacks`), decoding starts at the
    /// first frame and skips nothing. Either way the pixels are sequential decoding's.
    /// Fewer frames come back when the video ends before the last one wanted.
    public func frames(_ wanted: [Int], size: FrameSize = .native, table: FrameTable? = nil) throws
        -> (frames: [RGBFrame], warnings: [DecodeWarning]) {
        precondition(zip(wanted, wanted.dropFirst()).allSatisfy { $0 < $1 } && (wanted.first ?? 0) >= 0,
                     "frames wanted in ascending order, each once")
        guard let first = wanted.first else { return ([], []) }
        let converter = FrameConverter(rotation: info.rotation, size: size)

        func run(from start: (index: Int, pts: Int64, seek: Int64)?, expected: [Int64]?) throws -> (frames: [RGBFrame], warnings: [DecodeWarning], matched: Bool) {
            var out: [RGBFrame] = []
            var next = 0, matched = true
            // With the table, H.264 may drop the non-reference frames nobody wants (B-frames, about
            // half of x264's output): a frame is then placed by its timestamp, not by counting.
            // Not HEVC: FFmpeg's decoder drops every sub-layer non-reference picture there, which
            // a higher temporal layer may still reference.
            var discard: ((Int64) -> Bool)?
            if let expected, codec.pointee.id == AV_CODEC_ID_H264 {
                let keep = Set(wanted.lazy.filter { $0 < expected.count }.map { expected[$0] })
                discard = { !keep.contains($0) }
            }
            let warnings = try decodeFrames(threads: 1, from: start, mayDiscard: discard) { frame, counted in
                var index = counted
                if let expected {
                    guard let i = FrameTable.position(of: frame.pointee.best_effort_timestamp, in: expected) else {
                        matched = false
                        return false
                    }
                    index = i
                }
                guard index <= wanted[next] else { matched = false; return false }  // a wanted frame did not come
                if wanted[next] == index {
                    if next == 0 && index > 0 && frame.pointee.format != AV_PIX_FMT_GRAY8.rawValue {
                        // swscale's first conversion with a new context differs from every later
                        // one at some sizes (seen at odd output widths: 85x48 from 1280x720). In
                        // sequential decoding only frame 0 gets that first call, so convert once
                        // and throw it away. (Grey flow frames are copied, not scaled.)
                        _ = try converter.convert(frame, path: path)
                    }
                    let rgb = try converter.convert(frame, path: path)
                    out.append(RGBFrame(index: index, time: time(of: frame), width: rgb.width, height: rgb.height, pixels: rgb.pixels))
                    next += 1
                }
                return next < wanted.count
            }
            if expected != nil, next < wanted.count, wanted[next] < expected!.count { matched = false }
            return (out, warnings, matched)
        }

        if let table, let times = table.timestamps {
            if first >= times.count { return ([], []) }
            let key = table.keyframe(before: first)
            let r = try run(from: key > 0 ? (first, times[first], times[key]) : nil, expected: times)
            if r.matched { return (r.frames, r.warnings) }
            seekFallbacks += 1
        }
        let r = try run(from: nil, expected: nil)
        return (r.frames, r.warnings)
    }
}
