import CFFmpeg
import Foundation

/// Writes frames to a video file with FFmpeg's libraries. Identical input gives identical bytes
/// (single-threaded encoders, bit-exact flags, no creation time).
public final class VideoWriter {
    public enum Codec: Equatable, Sendable {
        /// H.264 in MP4 (libx264, constant quality `crf`); MPEG-4 Part 2 when no H.264 encoder exists.
        case h264(crf: Int)
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
    private var sws: OpaquePointer?
    private var nextPTS: Int64 = 0
    private var finished = false
    /// Only a file whose header was written has a trailer to write.
    private var started = false

    public init(path: String, width: Int, height: Int, frameRate: Fraction, codec: Codec, input: Input = .rgb24) throws {
        self.path = path; self.width = width; self.height = height; self.input = input
        func fail(_ op: String, _ rc: Int32) -> MediaError { .ffmpeg(path: path, operation: op, detail: ffmpegError(rc)) }
        vip_av_log_set_quiet(1)

        let muxer = codec == .ffv1 ? "matroska" : "mp4"
        var rc = avformat_alloc_output_context2(&format, nil, muxer, path)
        guard rc >= 0, let oc = format else { throw fail("creating the \(muxer) container", rc) }
        oc.pointee.flags |= AVFMT_FLAG_BITEXACT

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
        ctx.pointee.thread_count = 1
        ctx.pointee.flags |= AV_CODEC_FLAG_BITEXACT
        ctx.pointee.gop_size = 12
        if oc.pointee.oformat.pointee.flags & AVFMT_GLOBALHEADER != 0 { ctx.pointee.flags |= AV_CODEC_FLAG_GLOBAL_HEADER }
        var options: OpaquePointer?
        if case .h264(let crf) = codec {
            if encoderName == "libx264" {
                av_dict_set(&options, "crf", "\(crf)", 0)
                av_dict_set(&options, "preset", "medium", 0)
            } else {
                ctx.pointee.flags |= AV_CODEC_FLAG_QSCALE
                ctx.pointee.global_quality = 3 * FF_QP2LAMBDA
            }
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
        let source = input == .gray8 ? AV_PIX_FMT_GRAY8 : AV_PIX_FMT_RGB24
        sws = sws_getContext(Int32(width), Int32(height), source, Int32(width), Int32(height), pixelFormat,
                             SWS_BICUBIC | SWS_ACCURATE_RND | SWS_BITEXACT, nil, nil, nil)
    }

    deinit {
        if started && !finished { try? finish() }
        if let sws { sws_freeContext(sws) }
        av_frame_free(&frame)
        av_packet_free(&packet)
        avcodec_free_context(&context)
        if let oc = format {
            if oc.pointee.pb != nil { avio_closep(&oc.pointee.pb) }
            avformat_free_context(oc)
        }
    }

    /// Appends one frame (`rgb24`: width * height * 3 bytes; `gray8`: width * height bytes).
    public func write(_ pixels: [UInt8]) throws {
        let bytesPerPixel = input == .rgb24 ? 3 : 1
        guard pixels.count == width * height * bytesPerPixel else {
            throw MediaError.ffmpeg(path: path, operation: "writing a frame",
                                    detail: "\(pixels.count) bytes for a \(width)x\(height) \(input) frame")
        }
        guard let frame, let sws else { return }
        var rc = av_frame_make_writable(frame)
        guard rc >= 0 else { throw MediaError.ffmpeg(path: path, operation: "writing a frame", detail: ffmpegError(rc)) }
        pixels.withUnsafeBufferPointer { p in
            var src: [UnsafePointer<UInt8>?] = [p.baseAddress, nil, nil, nil]
            var srcStride: [Int32] = [Int32(width * bytesPerPixel), 0, 0, 0]
            withUnsafeMutablePointer(to: &frame.pointee.data) { dataTuple in
                dataTuple.withMemoryRebound(to: UnsafeMutablePointer<UInt8>?.self, capacity: 8) { data in
                    withUnsafeMutablePointer(to: &frame.pointee.linesize) { lineTuple in
                        lineTuple.withMemoryRebound(to: Int32.self, capacity: 8) { lines in
                            _ = sws_scale(sws, &src, &srcStride, 0, Int32(height), data, lines)
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
