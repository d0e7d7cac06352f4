import CFFmpeg

/// Versions of the FFmpeg libraries vipbench is linked against, as the libraries report them at
/// run time (they can differ from the headers it was compiled with).
public struct FFmpegLibraries: Codable, Equatable, Sendable {
    /// FFmpeg's release string, for example "5.1.6-0+deb12u1".
    public var release: String
    public var avformat: String
    public var avcodec: String
    public var avutil: String
    public var swscale: String

    public static var linked: FFmpegLibraries {
        FFmpegLibraries(
            release: av_version_info().map { String(cString: $0) } ?? "unknown",
            avformat: dotted(avformat_version()),
            avcodec: dotted(avcodec_version()),
            avutil: dotted(avutil_version()),
            swscale: dotted(swscale_version()))
    }

    /// FFmpeg packs versions as major << 16 | minor << 8 | micro.
    static func dotted(_ v: UInt32) -> String { "\(v >> 16).\((v >> 8) & 0xff).\(v & 0xff)" }
}
