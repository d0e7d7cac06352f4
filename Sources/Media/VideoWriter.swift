import CFFmpeg
import Foundation

/// Writes frames to a video file with FFmpeg's libraries. Identical input gives identical bytes
/// (single-threaded encoders, bit-exact flags, no creation time).
public final class VideoWriter {
    public enum Codec: Equatable, Sendable {
        /// H.264 in MP4 (libx264, constant quality `crf`); MPEG-4 Part 2 when no H.264 encoder exists.
        case h264(crf: Int)
        /// MPEG-4 Part 2 in MP4 (FFmpeg's own encoder, fixed quantiser `qscale` 1-31).
        case mpeg4(qscale: Int)
        /// Lossless FFV1 in Matroska. RGB input is stored as bgr0, 8-bit planes as gray.
        case ffv1
    }

    public enum Input: Equatable, Sendable {
        /// Packed 8-bit RGB, width * 3 bytes per row.
        case rgb24
        /// One 8-bit plane, width bytes per row (for example a quantised flow component).
        case gray8
    }

    public let path: String
    public let width: Int, height: Int
    public let input: Input
    /// The encoder actually used ("libx264", "mpeg4" or "ffv1").
    public private(set) var encoderName = ""
    private var format: UnsafeMutablePointer<AVFormatContext>?
    private var context: UnsafeMutablePointer<AVCodecContext>?
    private var stream: UnsafeMutablePointer<AVStream>?
    private var frame: UnsafeMutablePointer<AVFrame>?
    private var packet: UnsafeMutablePointer<AVPacket>?
    private var nextPTS: Int64 = 0

    private var finished = false
    /// Only a file whose header was written has a trailer to write.
    private var started = false

    /// - Parameter metadata: container tags (Matroska keeps any key; MP4 only its known ones).
    public init(path: String, width: Int, height: Int, frameRate: Fraction, codec: Codec, input: Input = .rgb24,
                metadata: [String: String] = [:]) throws {
        self.path = path; self.width = width; self.height = height; self.input = input
        func fail(_ op: String, _ rc: Int32) -> MediaError { .ffmpeg(path: path, operation: op, detail: ffmpegError(rc)) }
        vip_av_log_set_quiet(1)

        let muxer = codec == .ffv1 ? "matroska" : "mp4"
        var rc = avformat_alloc_output_context2(&format, nil, muxer, path)
        guard rc >= 0, let oc = format else { throw fail("creating the \(muxer) container", rc) }
        oc.pointee.flags |= AVFMT_FLAG_BITEXACT
        for (key, value) in metadata.sorted(by: { $0.key < $1.key }) { av_dict_set(&oc.pointee.metadata, key, value, 0) }

        var encoder: UnsafePointer<AVCodec>?
        var pixelFormat: AVPixelFormat
        switch codec {
        case .h264:
            encoder = avcodec_find_encoder_by_name("libx264") ?? avcodec_find_encoder(AV_CODEC_ID_H264)
            if encoder == nil { encoder = avcodec_find_encoder(AV_CODEC_ID_MPEG4) }
            pixelFormat = AV_PIX_FMT_YUV420P
            guard width % 2 == 0 && height % 2 == 0 else {
                throw MediaError.ffmpeg(path: path, operation: "encoding H.264", detail: "width and height must be even, got \(width)x\(height)")
            }
        case .mpeg4:
            encoder = avcodec_find_encoder(AV_CODEC_ID_MPEG4)
            pixelFormat = AV_PIX_FMT_YUV420P
            guard width % 2 == 0 && height % 2 == 0 else {
                throw MediaError.ffmpeg(path: path, operation: "encoding MPEG-4", detail: "width and height must be even, got \(width)x\(height)")
            }
        case .ffv1:
            encoder = avcodec_find_encoder(AV_CODEC_ID_FFV1)
            pixelFormat = input == .gray8 ? AV_PIX_FMT_GRAY8 : AV_PIX_FMT_BGR0
        }
        guard let encoder else { throw MediaError.noDecoder(path: path, codec: "an encoder for \(codec)") }
        encoderName = String(cString: encoder.pointee.name)
        guard let st = avformat_new_stream(oc, nil), let ctx = avcodec_alloc_context3(encoder) else {
            throw MediaError.ffmpeg(path: path, operation: "creating the stream", detail: "out of memory")
        }
        stream = st; context = ctx
        ctx.pointee.width = Int32(width)
        ctx.pointee.height = Int32(height)
        ctx.pointee.time_base = AVRational(num: Int32(frameRate.denominator), den: Int32(frameRate.numerator))
        ctx.pointee.framerate = AVRational(num: Int32(frameRate.numerator), den: Int32(frameRate.denominator))
        ctx.pointee.pix_fmt = pixelFormat
        // The colours as written, stated so that the ffmpeg command reads them back the same way:
        // YUV is BT.601 limited range (the formulas in `write`), bgr0 is RGB, and gray planes are
        // full range (a byte is a value; ffmpeg would stretch unstated gray as limited-range luma).
        switch pixelFormat {
        case AV_PIX_FMT_YUV420P:
            ctx.pointee.color_range = AVCOL_RANGE_MPEG
            ctx.pointee.colorspace = AVCOL_SPC_BT470BG
        case AV_PIX_FMT_BGR0:
            ctx.pointee.colorspace = AVCOL_SPC_RGB
        default:
            ctx.pointee.color_range = AVCOL_RANGE_JPEG
        }
        ctx.pointee.thread_count = 1
        ctx.pointee.flags |= AV_CODEC_FLAG_BITEXACT
        ctx.pointee.gop_size = 12
        if oc.pointee.oformat.pointee.flags & AVFMT_GLOBALHEADER != 0 { ctx.pointee.flags |= AV_CODEC_FLAG_GLOBAL_HEADER }
        var options: OpaquePointer?
        if case .h264(let crf) = codec {
            if encoderName == "libx264" {
                av_dict_set(&options, "crf", "\(crf)", 0)
                av_dict_set(&options, "preset", "medium", 0)
                // One thread everywhere, lookahead included: identical input must give identical bytes.
                av_dict_set(&options, "x264-params", "threads=1:lookahead-threads=1:sliced-threads=0", 0)
            } else {
                ctx.pointee.flags |= AV_CODEC_FLAG_QSCALE
                ctx.pointee.global_quality = 3 * FF_QP2LAMBDA
            }
        }
        if case .mpeg4(let q) = codec {
            ctx.pointee.flags |= AV_CODEC_FLAG_QSCALE
            ctx.pointee.global_quality = Int32(max(1, min(31, q))) * FF_QP2LAMBDA
        }
        if codec == .ffv1 { ctx.pointee.level = 3 }
        rc = avcodec_open2(ctx, encoder, &options)
        av_dict_free(&options)
        guard rc >= 0 else { throw fail("opening the \(encoderName) encoder", rc) }
        rc = avcodec_parameters_from_context(st.pointee.codecpar, ctx)
        guard rc >= 0 else { throw fail("configuring the stream", rc) }
        st.pointee.time_base = ctx.pointee.time_base
        rc = avio_open(&oc.pointee.pb, path, AVIO_FLAG_WRITE)
        guard rc >= 0 else { throw fail("opening the file for writing", rc) }
        rc = avformat_write_header(oc, nil)  // may change the stream's time base (MP4)
        guard rc >= 0 else { throw fail("writing the header", rc) }
        started = true

        frame = av_frame_alloc()
        packet = av_packet_alloc()
        guard let frame else { throw MediaError.ffmpeg(path: path, operation: "allocating a frame", detail: "out of memory") }
        frame.pointee.format = pixelFormat.rawValue
        frame.pointee.width = Int32(width)
        frame.pointee.height = Int32(height)
        rc = av_frame_get_buffer(frame, 64)
        guard rc >= 0 else { throw fail("allocating a frame", rc) }
    }

    deinit {
        if started && !finished { try? finish() }
        av_frame_free(&frame)
        av_packet_free(&packet)
        avcodec_free_context(&context)
        if let oc = format {
            if oc.pointee.pb != nil { avio_closep(&oc.pointee.pb) }
            avformat_free_context(oc)
        }
    }

    /// Appends one frame (`rgb24`: width * height * 3 bytes; `gray8`: width * height bytes).
    ///
    /// The conversion to the encoder's pixel format is done here, by fixed formulas (BT.601
    /// limited-range YUV 4:2:0 with 2x2 chroma averaging; bgr0 and gray as copies), not by swscale,
    /// whose vector code reads past row ends and made identical input encode differently.
    public func write(_ pixels: [UInt8]) throws {
        let bytesPerPixel = input == .rgb24 ? 3 : 1
        guard pixels.count == width * height * bytesPerPixel else {
            throw MediaError.ffmpeg(path: path, operation: "writing a frame",
                                    detail: "\(pixels.count) bytes for a \(width)x\(height) \(input) frame")
        }
        guard let frame else { return }
        var rc = av_frame_make_writable(frame)
        guard rc >= 0 else { throw MediaError.ffmpeg(path: path, operation: "writing a frame", detail: ffmpegError(rc)) }
        let (w, h) = (width, height)
        // Zero the whole planes, padding included: a new buffer (when the encoder still holds the
        // last one) is uninitialised, and the encoder's plane copy reads past the row width.
        for plane in 0..<4 {
            if let buf = av_frame_get_plane_buffer(frame, Int32(plane)) { memset(buf.pointee.data, 0, buf.pointee.size) }
        }
        withUnsafeMutablePointer(to: &frame.pointee.data) { dataTuple in
            dataTuple.withMemoryRebound(to: UnsafeMutablePointer<UInt8>?.self, capacity: 8) { data in
                withUnsafeMutablePointer(to: &frame.pointee.linesize) { lineTuple in
                    lineTuple.withMemoryRebound(to: Int32.self, capacity: 8) { lines in
                        pixels.withUnsafeBufferPointer { src in
                            let p = src.baseAddress!
                            switch AVPixelFormat(frame.pointee.format) {
                            case AV_PIX_FMT_GRAY8:
                                let (dst, ls) = (data[0]!, Int(lines[0]))
                                for y in 0..<h {
                                    for x in 0..<w { dst[y * ls + x] = input == .gray8 ? p[y * w + x] : VideoWriter.luma(p, (y * w + x) * 3) }
                                }
                            case AV_PIX_FMT_BGR0:
                                let (dst, ls) = (data[0]!, Int(lines[0]))
                                for y in 0..<h { for x in 0..<w {
                                    let s = (y * w + x) * bytesPerPixel, d = y * ls + x * 4
                                    let (r, g, b) = bytesPerPixel == 3 ? (p[s], p[s + 1], p[s + 2]) : (p[s], p[s], p[s])
                                    dst[d] = b; dst[d + 1] = g; dst[d + 2] = r; dst[d + 3] = 0
                                } }
                            default:  // YUV 4:2:0
                                let (yp, up, vp) = (data[0]!, data[1]!, data[2]!)
                                let (ly, lu, lv) = (Int(lines[0]), Int(lines[1]), Int(lines[2]))
                                for y in 0..<h { for x in 0..<w {
                                    yp[y * ly + x] = bytesPerPixel == 3 ? VideoWriter.luma(p, (y * w + x) * 3) : p[y * w + x]
                                } }
                                for cy in 0..<(h / 2) { for cx in 0..<(w / 2) {
                                    var r = 0, g = 0, b = 0
                                    for dy in 0..<2 { for dx in 0..<2 {
                                        let s = ((2 * cy + dy) * w + 2 * cx + dx) * bytesPerPixel
                                        if bytesPerPixel == 3 { r += Int(p[s]); g += Int(p[s + 1]); b += Int(p[s + 2]) }
                                        else { r += Int(p[s]); g += Int(p[s]); b += Int(p[s]) }
                                    } }
                                    // BT.601 limited range in 16.16 fixed point, on the mean of the 2x2 block
                                    // (r, g, b are sums of 4): Cb = 128 + (-37.945 R - 74.494 G + 112.439 B) / 256.
                                    let cb = 128 * 65536 + (-9714 * r - 19070 * g + 28784 * b) / 4
                                    let cr = 128 * 65536 + (28784 * r - 24103 * g - 4681 * b) / 4
                                    up[cy * lu + cx] = UInt8(clamping: (cb + 32768) >> 16)
                                    vp[cy * lv + cx] = UInt8(clamping: (cr + 32768) >> 16)
                                } }
                            }
                        }
                    }
                }
            }
        }
        frame.pointee.pts = nextPTS
        nextPTS += 1
        rc = avcodec_send_frame(context, frame)
        guard rc >= 0 else { throw MediaError.ffmpeg(path: path, operation: "encoding", detail: ffmpegError(rc)) }
        try drain()
    }

    /// BT.601 limited-range luma of the RGB triple at `i`: 16 + (65.738 R + 129.057 G + 25.064 B) / 256.
    @inline(__always) static func luma(_ p: UnsafePointer<UInt8>, _ i: Int) -> UInt8 {
        let y = 16 * 65536 + 16829 * Int(p[i]) + 33039 * Int(p[i + 1]) + 6416 * Int(p[i + 2])
        return UInt8(clamping: (y + 32768) >> 16)
    }

    private func drain() throws {
        guard let context, let packet, let stream, let format else { return }
        while true {
            let rc = avcodec_receive_packet(context, packet)
            if rc == vip_averror(EAGAIN) || rc == vip_averror_eof() { return }
            guard rc >= 0 else { throw MediaError.ffmpeg(path: path, operation: "encoding", detail: ffmpegError(rc)) }
            // FFmpeg 5.1's encoders leave durations at 0, and the MP4 muxer then drops the last frame.
            if packet.pointee.duration == 0 { packet.pointee.duration = 1 }
            av_packet_rescale_ts(packet, context.pointee.time_base, stream.pointee.time_base)
            packet.pointee.stream_index = stream.pointee.index
            let w = av_interleaved_write_frame(format, packet)
            guard w >= 0 else { throw MediaError.ffmpeg(path: path, operation: "writing a packet", detail: ffmpegError(w)) }
        }
    }

    /// Flushes the encoder and writes the trailer. Called automatically when the writer is dropped.
    public func finish() throws {
        guard started, !finished else { return }
        finished = true
        avcodec_send_frame(context, nil)
        try drain()
        let rc = av_write_trailer(format)
        guard rc >= 0 else { throw MediaError.ffmpeg(path: path, operation: "writing the trailer", detail: ffmpegError(rc)) }
        if let oc = format, oc.pointee.pb != nil { avio_closep(&oc.pointee.pb) }
    }
}
