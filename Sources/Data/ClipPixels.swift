import Flow
import Foundation

/// A clip's pixels as Float32, frames x height x width x channels (interleaved), RGB in [0, 1] or
/// flow in [-1, 1]. `tensorLayout()` gives the models' C x T x H x W.
public struct ClipPixels: Equatable, Sendable {
    public var frames: Int, height: Int, width: Int, channels: Int
    public var data: [Float]

    public init(frames: Int, height: Int, width: Int, channels: Int, data: [Float]) {
        precondition(data.count == frames * height * width * channels, "clip of \(data.count) values for \(frames)x\(height)x\(width)x\(channels)")
        self.frames = frames; self.height = height; self.width = width; self.channels = channels; self.data = data
    }

    /// From decoded 8-bit RGB frames (all the same size), scaled to [0, 1].
    public init(rgbFrames: [[UInt8]], width: Int, height: Int) {
        var d = [Float](repeating: 0, count: rgbFrames.count * width * height * 3)
        var k = 0
        for f in rgbFrames { for b in f { d[k] = Float(b) * (1 / 255); k += 1 } }
        self.init(frames: rgbFrames.count, height: height, width: width, channels: 3, data: d)
    }

    /// From quantised flow frames (interleaved x, y bytes), as values q / 255 x 2 - 1 in [-1, 1].
    public init(flowFrames: [[UInt8]], width: Int, height: Int) {
        var d = [Float](repeating: 0, count: flowFrames.count * width * height * 2)
        var k = 0
        for f in flowFrames { for b in f { d[k] = FlowQuantisation.unit(b); k += 1 } }
        self.init(frames: flowFrames.count, height: height, width: width, channels: 2, data: d)
    }

    @inline(__always) func at(_ t: Int, _ y: Int, _ x: Int, _ c: Int) -> Float {
        data[((t * height + y) * width + x) * channels + c]
    }

    /// The rectangle [x, x + w) x [y, y + h) of every frame.
    public func cropped(x: Int, y: Int, width w: Int, height h: Int) -> ClipPixels {
        precondition(x >= 0 && y >= 0 && x + w <= width && y + h <= height, "crop \(w)x\(h)+\(x)+\(y) outside \(width)x\(height)")
        var d = [Float](repeating: 0, count: frames * w * h * channels)
        for t in 0..<frames { for row in 0..<h {
            let src = ((t * height + y + row) * width + x) * channels, dst = ((t * h + row) * w) * channels
            for k in 0..<(w * channels) { d[dst + k] = data[src + k] }
        } }
        return ClipPixels(frames: frames, height: h, width: w, channels: channels, data: d)
    }

    /// Bilinear resize (half-pixel centres, no antialiasing: PyTorch's interpolate, align_corners=False).
    public func resized(width w: Int, height h: Int) -> ClipPixels {
        if w == width && h == height { return self }
        var d = [Float](repeating: 0, count: frames * w * h * channels)
        let sx = Double(width) / Double(w), sy = Double(height) / Double(h)
        var xs: [(Int, Int, Float)] = []
        for ox in 0..<w {
            let fx = max(0, (Double(ox) + 0.5) * sx - 0.5)
            let x0 = min(Int(fx), width - 1), x1 = min(x0 + 1, width - 1)
            xs.append((x0, x1, Float(fx - Double(x0))))
        }
        for t in 0..<frames { for oy in 0..<h {
            let fy = max(0, (Double(oy) + 0.5) * sy - 0.5)
            let y0 = min(Int(fy), height - 1), y1 = min(y0 + 1, height - 1)
            let wy = Float(fy - Double(y0))
            for ox in 0..<w {
                let (x0, x1, wx) = xs[ox]
                for c in 0..<channels {
                    let top = at(t, y0, x0, c) * (1 - wx) + at(t, y0, x1, c) * wx
                    let bottom = at(t, y1, x0, c) * (1 - wx) + at(t, y1, x1, c) * wx
                    d[((t * h + oy) * w + ox) * channels + c] = top * (1 - wy) + bottom * wy
                }
            }
        } }
        return ClipPixels(frames: frames, height: h, width: w, channels: channels, data: d)
    }

    /// Mirrors left-right. For flow, the x component (channel `negate`) changes sign too.
    public func flippedHorizontally(negating negate: Int? = nil) -> ClipPixels {
        var d = data
        for t in 0..<frames { for y in 0..<height { for x in 0..<width { for c in 0..<channels {
            let v = at(t, y, width - 1 - x, c)
            d[((t * height + y) * width + x) * channels + c] = c == negate ? -v : v
        } } } }
        return ClipPixels(frames: frames, height: height, width: width, channels: channels, data: d)
    }

    /// Channels-first C x T x H x W values, after `normalisation`.
    public func tensorLayout(_ normalisation: Normalisation = .unit) -> [Float] {
        var out = [Float](repeating: 0, count: data.count)
        let plane = frames * height * width
        for c in 0..<channels {
            let (scale, shift) = normalisation.affine(channel: c)
            for i in 0..<plane { out[c * plane + i] = data[i * channels + c] * scale + shift }
        }
        return out
    }
}

/// How pixel values in [0, 1] are mapped for a network.
public enum Normalisation: Equatable, Sendable {
    /// Unchanged, [0, 1] (TCLR).
    case unit
    /// [-1, 1] (I3D).
    case symmetric
    /// (x - mean) / std per channel (torchvision's video models, SlowFast).
    case meanStd(mean: [Float], std: [Float])

    /// Kinetics mean and std as torchvision's video models use them.
    public static let kinetics = Normalisation.meanStd(mean: [0.43216, 0.394666, 0.37645], std: [0.22803, 0.22145, 0.216989])

    func affine(channel c: Int) -> (Float, Float) {
        switch self {
        case .unit: return (1, 0)
        case .symmetric: return (2, -1)
        case .meanStd(let m, let s): return (1 / s[c], -m[c] / s[c])
        }
    }
}
