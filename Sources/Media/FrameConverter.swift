import CFFmpeg

/// Converts decoded frames to RGB24 with swscale (bicubic, as the ffmpeg command's auto-inserted
/// scaler), applying the display rotation and an optional resize.
final class FrameConverter {
    let rotation: Int
    let size: FrameSize
    private var sws: OpaquePointer?
    private var resizer: OpaquePointer?
    /// What the context was last asked for: geometry, source format and colours (rebuilding its
    /// tables is costly). A new geometry may come back as a new context at the old address, so
    /// this, not the pointer, says when to set the colours again.
    private struct Setting: Equatable {
        var width, height, format, targetWidth, targetHeight, matrix, fullRange: Int32
    }
    private var configured: Setting?

    init(rotation: Int, size: FrameSize) {
        self.rotation = rotation
        self.size = size
    }

    /// Bicubic, the ffmpeg command's default for its scaler (it matters only when resizing).
    static let flags: Int32 = SWS_BICUBIC

    /// The aligned, padded buffer swscale writes into, kept across frames (a fresh multi-megabyte
    /// allocation per frame costs more in page faults than the conversion itself).
    private var scratch: UnsafeMutableRawPointer?
    private var scratchBytes = 0

    deinit {
        scratch?.deallocate()
        if let sws { sws_freeContext(sws) }
        if let resizer { sws_freeContext(resizer) }
    }

    func convert(_ frame: UnsafeMutablePointer<AVFrame>, path: String) throws -> (width: Int, height: Int, pixels: [UInt8]) {
        let (w, h) = (Int(frame.pointee.width), Int(frame.pointee.height))
        let rotated = rotation == 90 || rotation == 270
        let (dw, dh) = rotated ? (h, w) : (w, h)
        let (tw, th) = size.target(width: dw, height: dh)
        if rotation == 0 && frame.pointee.format == AV_PIX_FMT_GRAY8.rawValue && tw == w && th == h
            && frame.pointee.color_range != AVCOL_RANGE_MPEG {
            // 8-bit grey planes (flow files, written full range) come out exactly: each byte copied
            // to R, G and B. Only a plane that states limited range is stretched, as ffmpeg does.
            var rgb = [UInt8](repeating: 0, count: w * h * 3)
            let stride = Int(frame.pointee.linesize.0)
            let src = frame.pointee.data.0!
            for y in 0..<h { for x in 0..<w {
                let g = src[y * stride + x]
                rgb[3 * (y * w + x)] = g; rgb[3 * (y * w + x) + 1] = g; rgb[3 * (y * w + x) + 2] = g
            } }
            return (w, h, rgb)
        }
        if rotation == 0 {
            return (tw, th, try scale(frame, to: tw, th, path: path))
        }
        // Rotate at the coded size, then resize the RGB picture if asked.
        let native = try scale(frame, to: w, h, path: path)
        let turned = rotate(native, width: w, height: h)
        if (tw, th) == (dw, dh) { return (dw, dh, turned) }
        return (tw, th, try resizeRGB(turned, from: dw, dh, to: tw, th, path: path))
    }

    // sws_getCachedContext frees the old context when it has to make a new one.
    private func scale(_ frame: UnsafeMutablePointer<AVFrame>, to tw: Int, _ th: Int, path: String) throws -> [UInt8] {
        // The JPEG-style formats (yuvj420p, ...) are their plain twins at full range. swscale
        // rewrites a context's yuvj source format to the plain one, so asking a cached context for
        // yuvj would make a fresh context (with default colours) at every frame: ask for the twin
        // and say the range.
        let coded = AVPixelFormat(frame.pointee.format)
        let (src, jpegStyle) = FrameConverter.plainTwin(of: coded)
        sws = sws_getCachedContext(sws, frame.pointee.width, frame.pointee.height, src,
                                   Int32(tw), Int32(th), AV_PIX_FMT_RGB24, FrameConverter.flags, nil, nil, nil)
        guard let ctx = sws else {
            throw MediaError.ffmpeg(path: path, operation: "converting to RGB", detail: "swscale cannot convert this pixel format")
        }
        let matrix = FrameConverter.matrix(frame.pointee.colorspace)
        let fullRange: Int32 = FrameConverter.isFullRange(frame.pointee.color_range, jpegStyle: jpegStyle) ? 1 : 0
        let setting = Setting(width: frame.pointee.width, height: frame.pointee.height, format: src.rawValue,
                              targetWidth: Int32(tw), targetHeight: Int32(th), matrix: matrix, fullRange: fullRange)
        if setting != configured {
            sws_setColorspaceDetails(ctx, sws_getCoefficients(matrix), fullRange, sws_getCoefficients(SWS_CS_DEFAULT), 1,
                                     0, 1 << 16, 1 << 16)
            configured = setting
        }
        return withAlignedOutput(width: tw, height: th) { dst, dstStride in
            withUnsafePointer(to: &frame.pointee.data) { dataTuple in
                dataTuple.withMemoryRebound(to: UnsafePointer<UInt8>?.self, capacity: 8) { data in
                    withUnsafePointer(to: &frame.pointee.linesize) { lineTuple in
                        lineTuple.withMemoryRebound(to: Int32.self, capacity: 8) { lines in
                            _ = sws_scale(ctx, data, lines, 0, frame.pointee.height, dst, dstStride)
                        }
                    }
                }
            }
        }
    }

    /// The swscale coefficient table for a frame's matrix, chosen as the ffmpeg command's scaler
    /// does (`in_color_matrix=auto`): the stated matrix, BT.601 when it is unspecified, RGB,
    /// reserved or one swscale has no table for.
    static func matrix(_ space: AVColorSpace) -> Int32 {
        let v = Int32(space.rawValue)
        return v < 1 || v > 10 || v == 2 || v == 3 || v == 8 ? SWS_CS_DEFAULT : v
    }

    /// Full range when the frame says so, or when it says nothing and its format is JPEG-style.
    static func isFullRange(_ range: AVColorRange, jpegStyle: Bool) -> Bool {
        range == AVCOL_RANGE_JPEG || (range == AVCOL_RANGE_UNSPECIFIED && jpegStyle)
    }

    static func colour(range: AVColorRange, space: AVColorSpace, format: AVPixelFormat) -> VideoColour {
        let name = { (p: UnsafePointer<CChar>?) in p.map { String(cString: $0) } ?? "unknown" }
        let (_, jpegStyle) = plainTwin(of: format)
        let decoded: String
        switch matrix(space) {
        case SWS_CS_ITU709: decoded = "BT.709"
        case SWS_CS_FCC: decoded = "FCC"
        case SWS_CS_SMPTE240M: decoded = "SMPTE 240M"
        case SWS_CS_BT2020, 10: decoded = "BT.2020"  // swscale has one table for both BT.2020 matrices
        default: decoded = "BT.601"
        }
        return VideoColour(range: name(av_color_range_name(range)), matrix: name(av_color_space_name(space)),
                           decodedFullRange: isFullRange(range, jpegStyle: jpegStyle), decodedMatrix: decoded)
    }

    /// The plain YUV format a JPEG-style (full-range) one stands for, and whether it was one.
    static func plainTwin(of format: AVPixelFormat) -> (AVPixelFormat, Bool) {
        switch format {
        case AV_PIX_FMT_YUVJ420P: return (AV_PIX_FMT_YUV420P, true)
        case AV_PIX_FMT_YUVJ422P: return (AV_PIX_FMT_YUV422P, true)
        case AV_PIX_FMT_YUVJ444P: return (AV_PIX_FMT_YUV444P, true)
        case AV_PIX_FMT_YUVJ440P: return (AV_PIX_FMT_YUV440P, true)
        case AV_PIX_FMT_YUVJ411P: return (AV_PIX_FMT_YUV411P, true)
        default: return (format, false)
        }
    }

    /// swscale's SIMD code writes whole vectors, past the end of a tightly packed row: give it
    /// 64-byte-aligned rows with padding, then pack the rows.
    private func withAlignedOutput(width: Int, height: Int,
                                   _ body: (UnsafeMutablePointer<UnsafeMutablePointer<UInt8>?>, UnsafeMutablePointer<Int32>) -> Void) -> [UInt8] {
        let row = width * 3
        let stride = (((width + 31) & ~31) * 3 + 63) & ~63  // whole vectors of pixels per row
        let needed = stride * (height + 1) + 64
        if needed > scratchBytes {
            scratch?.deallocate()
            scratch = UnsafeMutableRawPointer.allocate(byteCount: needed, alignment: 64)
            scratchBytes = needed
        }
        let buffer = scratch!
        var dst: [UnsafeMutablePointer<UInt8>?] = [buffer.assumingMemoryBound(to: UInt8.self), nil, nil, nil]
        var dstStride: [Int32] = [Int32(stride), 0, 0, 0]
        body(&dst, &dstStride)
        return [UInt8](unsafeUninitializedCapacity: row * height) { o, count in
            for y in 0..<height {
                UnsafeMutableRawPointer(o.baseAddress! + y * row).copyMemory(from: buffer + y * stride, byteCount: row)
            }
            count = row * height
        }
    }

    private func resizeRGB(_ rgb: [UInt8], from w: Int, _ h: Int, to tw: Int, _ th: Int, path: String) throws -> [UInt8] {
        resizer = sws_getCachedContext(resizer, Int32(w), Int32(h), AV_PIX_FMT_RGB24, Int32(tw), Int32(th),
                                       AV_PIX_FMT_RGB24, SWS_BICUBIC, nil, nil, nil)
        guard let ctx = resizer else { throw MediaError.ffmpeg(path: path, operation: "resizing", detail: "swscale refused the sizes") }
        return rgb.withUnsafeBufferPointer { i in
            withAlignedOutput(width: tw, height: th) { dst, dstStride in
                var src: [UnsafePointer<UInt8>?] = [i.baseAddress, nil, nil, nil]
                var srcStride: [Int32] = [Int32(w * 3), 0, 0, 0]
                _ = sws_scale(ctx, &src, &srcStride, 0, Int32(h), dst, dstStride)
            }
        }
    }

    /// Rotates an RGB picture clockwise by `rotation` degrees (90: ffmpeg's transpose=clock).
    func rotate(_ p: [UInt8], width w: Int, height h: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: p.count)
        for y in 0..<h {
            for x in 0..<w {
                let (nx, ny, nw): (Int, Int, Int)
                switch rotation {
                case 90: (nx, ny, nw) = (h - 1 - y, x, h)
                case 180: (nx, ny, nw) = (w - 1 - x, h - 1 - y, w)
                default: (nx, ny, nw) = (y, w - 1 - x, h)  // 270
                }
                let s = (y * w + x) * 3, d = (ny * nw + nx) * 3
                out[d] = p[s]; out[d + 1] = p[s + 1]; out[d + 2] = p[s + 2]
            }
        }
        return out
    }
}
