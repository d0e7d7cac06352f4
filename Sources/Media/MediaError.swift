/// Why a video could not be read. Every case names the file.
public enum MediaError: Error, CustomStringConvertible, Equatable {
    case fileNotFound(path: String)
    /// FFmpeg could not open it as a media file (text, image of unknown type, empty file ...).
    case notAVideo(path: String, detail: String)
    case noVideoStream(path: String, streams: Int)
    case streamOutOfRange(path: String, requested: Int, videoStreams: Int)
    case noDecoder(path: String, codec: String)
    case ffmpeg(path: String, operation: String, detail: String)

    public var description: String {
        switch self {
        case .fileNotFound(let p): return "\(p): file not found"
        case .notAVideo(let p, let d): return "\(p): not a video file FFmpeg can open (\(d))"
        case .noVideoStream(let p, let n): return "\(p): has no video stream (\(n) other stream\(n == 1 ? "" : "s"))"
        case .streamOutOfRange(let p, let r, let n): return "\(p): video stream \(r) requested, the file has \(n)"
        case .noDecoder(let p, let c): return "\(p): no decoder for codec \(c) in this FFmpeg"
        case .ffmpeg(let p, let op, let d): return "\(p): \(op) failed: \(d)"
        }
    }
}
