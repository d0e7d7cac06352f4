import Foundation

/// One channel of Float32 samples, row-major: an image (grey levels 0-255) or a flow component.
public struct Plane: Equatable, Sendable {
    public let width: Int
    public let height: Int
    public var data: [Float]

    public init(width: Int, height: Int, data: [Float]) {
        precondition(data.count == width * height, "plane \(width)x\(height) needs \(width * height) samples, got \(data.count)")
        self.width = width; self.height = height; self.data = data
    }

    public init(width: Int, height: Int, filling value: Float = 0) {
        self.init(width: width, height: height, data: [Float](repeating: value, count: width * height))
    }

    public subscript(x: Int, y: Int) -> Float {
        get { data[y * width + x] }
        set { data[y * width + x] = newValue }
    }

    /// Grey levels from packed RGB24 as OpenCV's `cvtColor(..., COLOR_RGB2GRAY)` makes them:
    /// Y = round(0.299 R + 0.587 G + 0.114 B) in 14-bit fixed point, so the same 8-bit values.
    public static func luma(rgb: [UInt8], width: Int, height: Int) -> Plane {
        precondition(rgb.count == width * height * 3)
        var out = [Float](repeating: 0, count: width * height)
        rgb.withUnsafeBufferPointer { p in
            for i in 0..<(width * height) {
                let y = (Int(p[3 * i]) * 4899 + Int(p[3 * i + 1]) * 9617 + Int(p[3 * i + 2]) * 1868 + 8192) >> 14
                out[i] = Float(y)
            }
        }
        return Plane(width: width, height: height, data: out)
    }

    /// Grey levels rounded to 8 bits (what a tool hands OpenCV as CV_8UC1).
    public var bytes: [UInt8] { data.map { UInt8(max(0, min(255, $0.rounded()))) } }

    /// Bilinear resize with OpenCV's `resize(INTER_LINEAR)` geometry: pixel centres aligned
    /// (source x = (x + 0.5) * scale - 0.5), clamped at the borders. `scale` is source pixels
    /// per destination pixel in each direction (OpenCV's 1 / fx when it is given, else the size
    /// ratio).
    public func resized(width tw: Int, height th: Int, scale: (x: Double, y: Double)? = nil) -> Plane {
        let sx = scale?.x ?? Double(width) / Double(tw), sy = scale?.y ?? Double(height) / Double(th)
        func taps(_ n: Int, _ size: Int, _ s: Double) -> [(Int, Int, Float)] {
            (0..<n).map { d in
                let f = Float((Double(d) + 0.5) * s - 0.5)
                var i = Int(f.rounded(.down))
                var a = f - Float(i)
                if i < 0 { i = 0; a = 0 }
                if i >= size - 1 { i = size - 1; a = 0 }
                return (i, min(i + 1, size - 1), a)
            }
        }
        let xs = taps(tw, width, sx), ys = taps(th, height, sy)
        var out = [Float](repeating: 0, count: tw * th)
        data.withUnsafeBufferPointer { src in
            for (dy, (y0, y1, b)) in ys.enumerated() {
                let r0 = src.baseAddress! + y0 * width, r1 = src.baseAddress! + y1 * width
                for (dx, (x0, x1, a)) in xs.enumerated() {
                    let top = r0[x0] * (1 - a) + r0[x1] * a
                    let bottom = r1[x0] * (1 - a) + r1[x1] * a
                    out[dy * tw + dx] = top * (1 - b) + bottom * b
                }
            }
        }
        return Plane(width: tw, height: th, data: out)
    }

    /// Gaussian smoothing with a kernel of radius ceil(3 sigma), borders mirrored (the IPOL code's
    /// Neumann condition), separable.
    public func gaussianBlurred(sigma: Double) -> Plane {
        guard sigma > 0 else { return self }
        let r = max(1, Int((3 * sigma).rounded(.up)))
        var k = (-r...r).map { Float(exp(-Double($0 * $0) / (2 * sigma * sigma))) }
        let s = k.reduce(0, +)
        k = k.map { $0 / s }
        func mirror(_ i: Int, _ n: Int) -> Int {
            var j = i
            while j < 0 || j >= n { j = j < 0 ? -j - 1 : 2 * n - j - 1 }
            return j
        }
        var tmp = [Float](repeating: 0, count: data.count)
        for y in 0..<height { for x in 0..<width {
            var acc: Float = 0
            for t in -r...r { acc += k[t + r] * data[y * width + mirror(x + t, width)] }
            tmp[y * width + x] = acc
        } }
        var out = [Float](repeating: 0, count: data.count)
        for y in 0..<height { for x in 0..<width {
            var acc: Float = 0
            for t in -r...r { acc += k[t + r] * tmp[mirror(y + t, height) * width + x] }
            out[y * width + x] = acc
        } }
        return Plane(width: width, height: height, data: out)
    }

    /// Centred differences, one-sided (halved) at the borders: OpenCV TV-L1's `centeredGradient`.
    func centredGradient() -> (dx: Plane, dy: Plane) {
        let (w, h) = (width, height)
        var dx = [Float](repeating: 0, count: w * h), dy = dx
        data.withUnsafeBufferPointer { s in
            for y in 0..<h {
                let up = max(y - 1, 0), down = min(y + 1, h - 1)
                for x in 0..<w {
                    let left = max(x - 1, 0), right = min(x + 1, w - 1)
                    dx[y * w + x] = 0.5 * (s[y * w + right] - s[y * w + left])
                    dy[y * w + x] = 0.5 * (s[down * w + x] - s[up * w + x])
                }
            }
        }
        return (Plane(width: w, height: h, data: dx), Plane(width: w, height: h, data: dy))
    }
}
