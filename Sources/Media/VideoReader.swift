import CFFmpeg
import Foundation

/// A rational number as FFmpeg keeps time bases and frame rates.
public struct Fraction: Codable, Equatable, Sendable, CustomStringConvertible {
    public var numerator: Int
    public var denominator: Int
    public var value: Double { denominator == 0 ? .nan : Double(numerator) / Double(denominator) }
    public var description: String { "\(numerator)/\(denominator)" }
    public init(numerator: Int, denominator: Int) { self.numerator = numerator; self.denominator = denominator }
    init(_ r: AVRational) { numerator = Int(r.num); denominator = Int(r.den) }
}

/// What the container says about the chosen video stream (the decoded frame count is separate:
/// headers can be wrong).
public struct VideoStreamInfo: Codable, Equatable, Sendable {
    public var path: String
    public var codec: String
    public var pixelFormat: String
    /// Size as displayed: after applying the rotation.
    public var width: Int
    public var height: Int
    /// Clockwise degrees applied to the coded picture for display (0, 90, 180 or 270).
    public var rotation: Int
    public var frameRate: Fraction
    public var timeBase: Fraction
    /// Seconds, from the stream or the container; nil when neither says.
    public var duration: Double?
    /// The frame count the header claims, if any.
    public var headerFrameCount: Int?
    /// Index of the stream among all streams, and how many streams the file has.
    public var streamIndex: Int
    public var streamCount: Int
    public var videoStreamCount: Int
    /// The colour range and YUV matrix as the stream states them, and what decoding applies.
    public var colour: VideoColour
}

/// A stream's colour metadata (FFmpeg's names: range "tv", "pc" or "unknown"; matrix "bt709",
/// "bt470bg", "smpte170m", "bt2020nc", ... or "unknown"), and the range and matrix the decoder
/// applies: the stated ones, or what the `ffmpeg` command assumes when they are missing (full range
/// for the JPEG-style yuvj formats, limited otherwise; BT.601 for an unknown matrix).
public struct VideoColour: Codable, Equatable, Sendable, CustomStringConvertible {
    public var range: String
    public var matrix: String
    public var decodedFullRange: Bool
    public var decodedMatrix: String

    public var description: String {
        let r = decodedFullRange ? "full range" : "limited range"
        let stated = range == "unknown" && matrix == "unknown" ? "unstated" : "stated: \(range), \(matrix)"
        return "\(r), \(decodedMatrix) matrix (\(stated))"
    }
}

/// One decoded frame, 8-bit RGB, rows top to bottom, `width * 3` bytes per row.
public struct RGBFrame: Sendable {
    public var index: Int
    /// Presentation time in seconds (nil when the stream has no timestamps).
    public var time: Double?
    public var width: Int
    public var height: Int
    public var pixels: [UInt8]
}

/// How frames come out: at the coded size, with the short side resized, or at an exact size.
public enum FrameSize: Equatable, Sendable {
    case native
    case shortSide(Int)
    case exact(width: Int, height: Int)

    /// The output size for a displayed size of w x h.
    public func target(width w: Int, height h: Int) -> (Int, Int) {
        switch self {
        case .native: return (w, h)
        case .exact(let tw, let th): return (tw, th)
        case .shortSide(let s):
            // Keep the aspect ratio; round the long side to the nearest integer (as torchvision).
            if w <= h { return (s, Int((Double(h) * Double(s) / Double(w)).rounded())) }
            return (Int((Double(w) * Double(s) / Double(h)).rounded()), s)
        }
    }
}

/// Damage met while decoding: the frames before it were delivered.
public struct DecodeWarning: Sendable, CustomStringConvertible {
    public var path: String
    public var message: String
    public var description: String { "\(path): \(message)" }
}

/// Reads the video stream of a file with FFmpeg's libraries: any container and codec FFmpeg
/// supports, rotation applied, converted to 8-bit RGB (10-bit sources too), in presentation order.
public final class VideoReader {
    public let path: String
    public let info: VideoStreamInfo
    private var format: UnsafeMutablePointer<AVFormatContext>?
    let stream: UnsafeMutablePointer<AVStream>
    let codec: UnsafePointer<AVCodec>

    /// Opens `path`. `videoStream` picks the n-th video stream (default the first).
    public init(path: String, videoStream: Int = 0) throws {
        self.path = path
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir), !isDir.boolValue else {
            throw MediaError.fileNotFound(path: path)
        }
        vip_av_log_set_quiet(1)
        var fmt: UnsafeMutablePointer<AVFormatContext>?
        var rc = avformat_open_input(&fmt, path, nil, nil)
        guard rc >= 0, let fmt else { throw MediaError.notAVideo(path: path, detail: ffmpegError(rc)) }
        format = fmt
        rc = avformat_find_stream_info(fmt, nil)
        if rc < 0 {
            avformat_close_input(&format)
            throw MediaError.notAVideo(path: path, detail: ffmpegError(rc))
        }
        let count = Int(fmt.pointee.nb_streams)
        var videos: [Int] = []
        for i in 0..<count {
            let st = fmt.pointee.streams[i]!
            if st.pointee.codecpar.pointee.codec_type == AVMEDIA_TYPE_VIDEO
                && st.pointee.disposition & AV_DISPOSITION_ATTACHED_PIC == 0 {
                videos.append(i)
            }
        }
        guard !videos.isEmpty else {
            avformat_close_input(&format)
            throw MediaError.noVideoStream(path: path, streams: count)
        }
        guard videoStream >= 0 && videoStream < videos.count else {
            avformat_close_input(&format)
            throw MediaError.streamOutOfRange(path: path, requested: videoStream, videoStreams: videos.count)
        }
        stream = fmt.pointee.streams[videos[videoStream]]!
        let par = stream.pointee.codecpar!
        guard let c = avcodec_find_decoder(par.pointee.codec_id) else {
            let name = String(cString: avcodec_get_name(par.pointee.codec_id))
            avformat_close_input(&format)
            throw MediaError.noDecoder(path: path, codec: name)
        }
        codec = c
        let rotation = VideoReader.rotation(of: stream)
        var (w, h) = (Int(par.pointee.width), Int(par.pointee.height))
        if rotation == 90 || rotation == 270 { swap(&w, &h) }
        let fmtName = av_get_pix_fmt_name(AVPixelFormat(par.pointee.format)).map { String(cString: $0) } ?? "unknown"
        var duration: Double?
        if stream.pointee.duration > 0 {
            duration = Double(stream.pointee.duration) * av_q2d(stream.pointee.time_base)
        } else if fmt.pointee.duration > 0 {
            duration = Double(fmt.pointee.duration) / Double(AV_TIME_BASE)
        }
        let rate = stream.pointee.avg_frame_rate.num > 0 ? stream.pointee.avg_frame_rate : stream.pointee.r_frame_rate
        info = VideoStreamInfo(path: path, codec: String(cString: c.pointee.name), pixelFormat: fmtName,
                               width: w, height: h, rotation: rotation, frameRate: Fraction(rate),
                               timeBase: Fraction(stream.pointee.time_base), duration: duration,
                               headerFrameCount: stream.pointee.nb_frames > 0 ? Int(stream.pointee.nb_frames) : nil,
                               streamIndex: videos[videoStream], streamCount: count, videoStreamCount: videos.count,
                               colour: FrameConverter.colour(range: par.pointee.color_range, space: par.pointee.color_space,
                                                             format: AVPixelFormat(par.pointee.format)))
    }

    deinit { avformat_close_input(&format) }

    /// Whether packets were read since opening (then decoding from the start seeks back first).
    var hasRead = false

    /// Clockwise display rotation from the stream's display matrix, as the ffmpeg command applies it.
    static func rotation(of stream: UnsafeMutablePointer<AVStream>) -> Int {
        guard let side = av_stream_get_side_data(stream, AV_PKT_DATA_DISPLAYMATRIX, nil) else { return 0 }
        let theta = side.withMemoryRebound(to: Int32.self, capacity: 9) { -av_display_rotation_get($0) }
        guard theta.isFinite else { return 0 }
        var degrees = Int((theta / 90).rounded()) * 90 % 360
        if degrees < 0 { degrees += 360 }
        return degrees
    }

    /// Decodes frames in presentation order, calling `body` for each; `body` returns false to stop.
    /// Damage (a cut-off file, corrupt packets) ends or skips with warnings, never a crash.
    ///
    /// - Parameters:
    ///   - size: output size (after rotation).
    ///   - threads: decoder threads (1 is deterministic and what the benchmark compares; 0 = auto).
    @discardableResult
    public func decode(size: FrameSize = .native, threads: Int = 1,
                       _ body: (RGBFrame) throws -> Bool) throws -> [DecodeWarning] {
        let converter = FrameConverter(rotation: info.rotation, size: size)
        return try decodeFrames(threads: threads, from: nil) { frame, index in
            let rgb = try converter.convert(frame, path: path)
            return try body(RGBFrame(index: index, time: time(of: frame), width: rgb.width, height: rgb.height, pixels: rgb.pixels))
        }
    }

    /// The frame's presentation time in seconds, nil without a timestamp.
    func time(of frame: UnsafeMutablePointer<AVFrame>) -> Double? {
        let pts = frame.pointee.best_effort_timestamp
        return pts == vip_av_nopts_value() ? nil : Double(pts) * av_q2d(stream.pointee.time_base)
    }

    /// The decoding loop: every decoded frame (from `start` on, when given) goes to `visit` with its
    /// index, unconverted; `visit` returns false to stop. Damage ends or skips with warnings.
    ///
    /// `mayDiscard` (packet timestamp -> Bool) lets the decoder drop the non-reference frames of
    /// those packets (no other frame depends on them); then the visited frames' indices count only
    /// what was decoded, and the caller places frames by their timestamps.
    ///
    /// `start`: seek to `seek` (the keyframe's timestamp) and drop the frames before `pts`, the
    /// first one visited being frame `index`.
    func decodeFrames(threads: Int, from start: (index: Int, pts: Int64, seek: Int64)?, mayDiscard: ((Int64) -> Bool)? = nil,
                      _ visit: (UnsafeMutablePointer<AVFrame>, Int) throws -> Bool) throws -> [DecodeWarning] {
        guard let ctx = avcodec_alloc_context3(codec) else {
            throw MediaError.ffmpeg(path: path, operation: "allocating a decoder", detail: "out of memory")
        }
        var context: UnsafeMutablePointer<AVCodecContext>? = ctx
        defer { avcodec_free_context(&context) }
        var rc = avcodec_parameters_to_context(ctx, stream.pointee.codecpar)
        guard rc >= 0 else { throw MediaError.ffmpeg(path: path, operation: "configuring the decoder", detail: ffmpegError(rc)) }
        ctx.pointee.thread_count = Int32(threads)
        ctx.pointee.pkt_timebase = stream.pointee.time_base
        rc = avcodec_open2(ctx, codec, nil)
        guard rc >= 0 else { throw MediaError.ffmpeg(path: path, operation: "opening the decoder", detail: ffmpegError(rc)) }

        if let start {
            rc = av_seek_frame(format, Int32(stream.pointee.index), start.seek, AVSEEK_FLAG_BACKWARD)
            guard rc >= 0 else { throw MediaError.ffmpeg(path: path, operation: "seeking", detail: ffmpegError(rc)) }
        } else if hasRead {
            // Start from the beginning (a reader can decode more than once). Not before the first
            // read: single-picture demuxers (JPEG) cannot seek back over what probing buffered.
            avformat_seek_file(format, Int32(stream.pointee.index), Int64.min, 0, 0, 0)
        }
        hasRead = true

        var packet: UnsafeMutablePointer<AVPacket>? = av_packet_alloc()
        var frame: UnsafeMutablePointer<AVFrame>? = av_frame_alloc()
        defer { av_packet_free(&packet); av_frame_free(&frame) }
        var warnings: [DecodeWarning] = []
        var index = start?.index ?? 0
        var stop = false

        func drain() throws {
            while !stop {
                let r = avcodec_receive_frame(ctx, frame)
                if r == vip_averror(EAGAIN) || r == vip_averror_eof() { return }
                if r < 0 {
                    warnings.append(DecodeWarning(path: path, message: "decoding frame \(index) failed: \(ffmpegError(r))"))
                    return
                }
                defer { av_frame_unref(frame) }
                let pts = frame!.pointee.best_effort_timestamp
                if let start, pts != vip_av_nopts_value(), pts < start.pts { continue }  // decoded only to reach the target
                let more = try visit(frame!, index)
                index += 1
                if !more { stop = true }
            }
        }

        var decodeErrors = 0
        while !stop {
            rc = av_read_frame(format, packet)
            if rc < 0 {
                if rc != vip_averror_eof() {
                    warnings.append(DecodeWarning(path: path, message: "reading stopped after \(index) frames: \(ffmpegError(rc))"))
                }
                break
            }
            defer { av_packet_unref(packet) }
            guard packet!.pointee.stream_index == stream.pointee.index else { continue }
            if let mayDiscard {
                let pts = packet!.pointee.pts
                ctx.pointee.skip_frame = pts != vip_av_nopts_value() && mayDiscard(pts) ? AVDISCARD_NONREF : AVDISCARD_DEFAULT
            }
            let s = avcodec_send_packet(ctx, packet)
            if s < 0 && s != vip_averror(EAGAIN) {
                decodeErrors += 1
                if decodeErrors <= 3 {
                    warnings.append(DecodeWarning(path: path, message: "damaged packet near frame \(index): \(ffmpegError(s))"))
                }
                continue
            }
            try drain()
        }
        if !stop {
            avcodec_send_packet(ctx, nil)  // flush: the frames the decoder still holds
            try drain()
        }
        if decodeErrors > 3 {
            warnings.append(DecodeWarning(path: path, message: "\(decodeErrors) damaged packets in all"))
        }
        if let header = info.headerFrameCount, start == nil, !stop, header != index {
            warnings.append(DecodeWarning(path: path, message: "the header claims \(header) frames, \(index) decoded"))
        }
        return warnings
    }

    /// Where the frames are, from the packets alone (demuxing, no decoding): their timestamps and
    /// keyframes, or nil when the timestamps cannot index frames (missing or repeated). Cheaper than
    /// `frameTable()` for one lookup; `frames(_:size:table:)` checks it against what decodes.
    private lazy var packetTable: FrameTable? = {
        guard let packet = av_packet_alloc() else { return nil }
        var p: UnsafeMutablePointer<AVPacket>? = packet
        defer { av_packet_free(&p) }
        if hasRead { avformat_seek_file(format, Int32(stream.pointee.index), Int64.min, 0, 0, 0) }
        hasRead = true
        var times: [Int64] = [], keys: [Int64] = []
        while av_read_frame(format, packet) >= 0 {
            defer { av_packet_unref(packet) }
            guard packet.pointee.stream_index == stream.pointee.index else { continue }
            if packet.pointee.pts == vip_av_nopts_value() { return nil }
            times.append(packet.pointee.pts)
            if packet.pointee.flags & AV_PKT_FLAG_KEY != 0 { keys.append(packet.pointee.pts) }
        }
        times.sort()
        guard Set(times).count == times.count else { return nil }
        let keyframes = keys.compactMap { FrameTable.position(of: $0, in: times) }.sorted()
        return FrameTable(count: times.count, timestamps: times, keyframes: keyframes)
    }()

    /// How many `frames(_:size:table:)` (and `frame(at:)`) calls found frames other than the
    /// table's and decoded from the start instead.
    public internal(set) var seekFallbacks = 0

    /// Frame `index` by random access: seek to the keyframe before it and decode forward. Gives the
    /// same pixels as decoding sequentially; falls back to sequential decoding where the stream's
    /// timestamps cannot index its frames.
    public func frame(at index: Int, size: FrameSize = .native) throws -> RGBFrame? {
        guard index >= 0 else { return nil }
        return try frames([index], size: size, table: packetTable).frames.first
    }

    /// Every frame, decoded.
    public func readAll(size: FrameSize = .native) throws -> (frames: [RGBFrame], warnings: [DecodeWarning]) {
        var frames: [RGBFrame] = []
        let w = try decode(size: size) { frames.append($0); return true }
        return (frames, w)
    }

    /// The number of frames that actually decode (slow: decodes the whole stream, without converting).
    public func countFrames() throws -> (count: Int, warnings: [DecodeWarning]) {
        let (table, warnings) = try frameTable()
        return (table.count, warnings)
    }
}

func ffmpegError(_ code: Int32) -> String {
    var buffer = [CChar](repeating: 0, count: 256)
    vip_av_strerror(code, &buffer, buffer.count)
    return String(cString: buffer)
}
