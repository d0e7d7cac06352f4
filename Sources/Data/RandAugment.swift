import Engine
import Foundation

/// RandAugment for video as SlowFast uses it (timm's `rand-m7-n4-mstd0.5-inc1`): `ops` operations
/// drawn with replacement from timm's "increasing" list, each applied with probability 0.5 at a
/// magnitude drawn from N(m, mstd) clipped to [0, 10]. Every draw is made once per clip and
/// applied to all its frames (SlowFast's `AugmentOp` on a frame list), so motion is untouched.
/// Pixel operations work on 8-bit levels (values x 255) as PIL's do; geometric ones sample
/// bilinearly and fill with the mean grey 0.45.
public struct RandAugmentConfig: Equatable, Hashable, Codable, Sendable {
    public var magnitude: Double
    public var ops: Int
    public var magnitudeStd: Double
    public var probability: Double

    public init(magnitude: Double = 7, ops: Int = 4, magnitudeStd: Double = 0.5, probability: Double = 0.5) {
        self.magnitude = magnitude; self.ops = ops; self.magnitudeStd = magnitudeStd; self.probability = probability
    }
}

public enum RandAugmentOp: String, CaseIterable, Codable, Sendable {
    case autoContrast, equalize, invert, rotate, posterize, solarize, solarizeAdd, color, contrast, brightness, sharpness
    case shearX, shearY, translateX, translateY
}

/// One drawn operation: which, and its signed magnitude parameter (degrees, factor, bits, ...).
public struct RandAugmentStep: Equatable, Sendable {
    public var op: RandAugmentOp
    public var value: Double

    public init(op: RandAugmentOp, value: Double) { self.op = op; self.value = value }

    /// Draws the steps for one clip.
    public static func draw(_ c: RandAugmentConfig, generator g: inout SeededGenerator) -> [RandAugmentStep] {
        var steps: [RandAugmentStep] = []
        let all = RandAugmentOp.allCases
        for _ in 0..<c.ops {
            let op = all[g.int(below: all.count)]
            guard g.uniform() < c.probability else { continue }
            let m = min(10, max(0, c.magnitude + (c.magnitudeStd > 0 ? g.normal() * c.magnitudeStd : 0))) / 10
            let sign: Double = g.uniform() < 0.5 ? -1 : 1
            let value: Double
            switch op {
            case .rotate: value = sign * m * 30                         // degrees
            case .shearX, .shearY: value = sign * m * 0.3
            case .translateX, .translateY: value = sign * m * 0.45      // fraction of the side
            case .posterize: value = Double(4 - Int(m * 4))             // bits kept
            case .solarize: value = Double(256 - Int(m * 256))          // threshold
            case .solarizeAdd: value = Double(Int(m * 110))
            case .color, .contrast, .brightness, .sharpness: value = 1 + sign * m * 0.9
            case .autoContrast, .equalize, .invert: value = 0
            }
            steps.append(RandAugmentStep(op: op, value: value))
        }
        return steps
    }

    /// Applies this step to every frame of an RGB clip in [0, 1].
    public func apply(_ clip: ClipPixels) -> ClipPixels {
        guard clip.channels == 3 else { return clip }
        var c = clip
        let (h, w) = (c.height, c.width)
        let plane = h * w * 3
        func perFrame(_ body: (inout ArraySlice<Float>) -> Void) {
            for t in 0..<c.frames {
                var s = c.data[(t * plane)..<((t + 1) * plane)]
                body(&s)
                c.data.replaceSubrange((t * plane)..<((t + 1) * plane), with: s)
            }
        }
        func levels(_ x: Float) -> Float { (x * 255).rounded() }
        switch op {
        case .invert: for i in c.data.indices { c.data[i] = 1 - c.data[i] }
        case .posterize:
            let shift = 8 - Int(value)
            for i in c.data.indices { c.data[i] = Float((Int(levels(c.data[i])) >> shift) << shift) / 255 }
        case .solarize:
            for i in c.data.indices where levels(c.data[i]) >= Float(value) { c.data[i] = 1 - c.data[i] }
        case .solarizeAdd:
            for i in c.data.indices where levels(c.data[i]) < 128 { c.data[i] = min(255, levels(c.data[i]) + Float(value)) / 255 }
        case .brightness: for i in c.data.indices { c.data[i] = min(1, max(0, c.data[i] * Float(value))) }
        case .color:
            for i in stride(from: 0, to: c.data.count, by: 3) {
                let y = ColourOps.luma(c.data[i], c.data[i + 1], c.data[i + 2])
                for k in 0..<3 { c.data[i + k] = min(1, max(0, y + (c.data[i + k] - y) * Float(value))) }
            }
        case .contrast:
            perFrame { f in
                var mean: Float = 0
                for i in stride(from: f.startIndex, to: f.endIndex, by: 3) { mean += ColourOps.luma(f[i], f[i + 1], f[i + 2]) }
                mean /= Float(h * w)
                for i in f.indices { f[i] = min(1, max(0, mean + (f[i] - mean) * Float(value))) }
            }
        case .sharpness:
            // PIL: blend with the 3x3 smoothing [1 1 1; 1 5 1; 1 1 1] / 13, border pixels kept.
            perFrame { f in
                let src = Array(f), b = f.startIndex
                guard h > 2 && w > 2 else { return }
                for y in 1..<(h - 1) { for x in 1..<(w - 1) { for k in 0..<3 {
                    var s: Float = 0
                    for dy in -1...1 { for dx in -1...1 { s += src[((y + dy) * w + x + dx) * 3 + k] * (dx == 0 && dy == 0 ? 5 : 1) } }
                    let o = (y * w + x) * 3 + k
                    f[b + o] = min(1, max(0, s / 13 + (src[o] - s / 13) * Float(value)))
                } } }
            }
        case .autoContrast:
            perFrame { f in
                for k in 0..<3 {
                    var lo: Float = 1, hi: Float = 0
                    for i in stride(from: f.startIndex + k, to: f.endIndex, by: 3) { lo = min(lo, f[i]); hi = max(hi, f[i]) }
                    guard hi > lo else { continue }
                    for i in stride(from: f.startIndex + k, to: f.endIndex, by: 3) { f[i] = (f[i] - lo) / (hi - lo) }
                }
            }
        case .equalize:
            // PIL's ImageOps.equalize per channel: a lookup table from the cumulative histogram.
            perFrame { f in
                for k in 0..<3 {
                    var hist = [Int](repeating: 0, count: 256)
                    for i in stride(from: f.startIndex + k, to: f.endIndex, by: 3) { hist[Int(levels(f[i]))] += 1 }
                    let nonzero = hist.filter { $0 > 0 }
                    guard nonzero.count > 1 else { continue }
                    let step = (nonzero.reduce(0, +) - nonzero.last!) / 255
                    guard step > 0 else { continue }
                    var lut = [Float](repeating: 0, count: 256), n = step / 2
                    for v in 0..<256 { lut[v] = Float(min(255, n / step)) / 255; n += hist[v] }
                    for i in stride(from: f.startIndex + k, to: f.endIndex, by: 3) { f[i] = lut[Int(levels(f[i]))] }
                }
            }
        case .rotate, .shearX, .shearY, .translateX, .translateY:
            // Output pixel (x, y) samples the input at A (x - cx, y - cy) + (cx, cy) + t.
            let (cx, cy) = (Double(w - 1) / 2, Double(h - 1) / 2)
            var a = (1.0, 0.0, 0.0, 1.0), t = (0.0, 0.0)
            switch op {
            case .rotate:
                let r = value * Double.pi / 180
                a = (cos(r), sin(r), -sin(r), cos(r))
            case .shearX: a = (1, value, 0, 1)
            case .shearY: a = (1, 0, value, 1)
            case .translateX: t = (-value * Double(w), 0)
            default: t = (0, -value * Double(h))
            }
            let fill: Float = 0.45
            perFrame { f in
                let src = Array(f), b = f.startIndex
                for y in 0..<h { for x in 0..<w {
                    let dx = Double(x) - cx, dy = Double(y) - cy
                    let sx = a.0 * dx + a.1 * dy + cx + t.0, sy = a.2 * dx + a.3 * dy + cy + t.1
                    let x0 = Int(floor(sx)), y0 = Int(floor(sy))
                    let fx = Float(sx - Double(x0)), fy = Float(sy - Double(y0))
                    for k in 0..<3 {
                        func px(_ xx: Int, _ yy: Int) -> Float { xx >= 0 && yy >= 0 && xx < w && yy < h ? src[(yy * w + xx) * 3 + k] : fill }
                        let top = px(x0, y0) * (1 - fx) + px(x0 + 1, y0) * fx
                        let bottom = px(x0, y0 + 1) * (1 - fx) + px(x0 + 1, y0 + 1) * fx
                        f[b + (y * w + x) * 3 + k] = top * (1 - fy) + bottom * fy
                    }
                } }
            }
        }
        return c
    }
}
