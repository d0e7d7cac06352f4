import CFFmpeg
import Foundation

/// Writes single pictures with FFmpeg's image encoders (so every image byte goes through FFmpeg).
public enum ImageWriter {
    /// Packed RGB24 as a PNG file.
    public static func png(_ rgb: [UInt8], width: Int, height: Int, to path: String) throws {
        func fail(_ op: String, _ detail: String) -> MediaError { .ffmpeg(path: path, operation: op, detail: detail) }
        guard rgb.count == width * height * 3, width > 0, height > 0 else {
            throw fail("writing a PNG", "\(rgb.count) bytes for a \(width)x\(height) RGB picture")
        }
        vip_av_log_set_quiet(1)
        guard let encoder = avcodec_find_encoder(AV_CODEC_ID_PNG) else { throw fail("writing a PNG", "FFmpeg has no PNG encoder") }
        var context = avcodec_alloc_context3(encoder)
        defer { avcodec_free_context(&context) }
        guard let ctx = context else { throw fail("writing a PNG", "out of memory") }
        ctx.pointee.width = Int32(width)
        ctx.pointee.height = Int32(height)
        ctx.pointee.pix_fmt = AV_PIX_FMT_RGB24
        ctx.pointee.time_base = AVRational(num: 1, den: 1)
        ctx.pointee.flags |= AV_CODEC_FLAG_BITEXACT
        var rc = avcodec_open2(ctx, encoder, nil)
        guard rc >= 0 else { throw fail("opening the PNG encoder", ffmpegError(rc)) }
        var frame = av_frame_alloc()
        var packet = av_packet_alloc()
        defer { av_frame_free(&frame); av_packet_free(&packet) }
        guard let f = frame, let pkt = packet else { throw fail("writing a PNG", "out of memory") }
        f.pointee.format = AV_PIX_FMT_RGB24.rawValue
        f.pointee.width = Int32(width)
        f.pointee.height = Int32(height)
        rc = av_frame_get_buffer(f, 64)
        guard rc >= 0 else { throw fail("allocating a frame", ffmpegError(rc)) }
        let stride = Int(f.pointee.linesize.0)
        rgb.withUnsafeBufferPointer { src in
            for y in 0..<height {
                (f.pointee.data.0! + y * stride).update(from: src.baseAddress! + y * width * 3, count: width * 3)
            }
        }
        rc = avcodec_send_frame(ctx, f)
        guard rc >= 0 else { throw fail("encoding a PNG", ffmpegError(rc)) }
        avcodec_send_frame(ctx, nil)
        var bytes = Data()
        while avcodec_receive_packet(ctx, pkt) >= 0 {
            bytes.append(pkt.pointee.data, count: Int(pkt.pointee.size))
            av_packet_unref(pkt)
        }
        guard !bytes.isEmpty else { throw fail("encoding a PNG", "the encoder gave no data") }
        do { try bytes.write(to: URL(fileURLWithPath: path), options: .atomic) } catch {
            throw fail("writing the file", error.localizedDescription)
        }
    }
}
