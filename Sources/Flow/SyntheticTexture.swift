import Foundation

/// A band-limited test texture: twelve sinusoids with periods of `shortest` to shortest + 33
/// pixels, grey levels about 30-225. It is continuous, so a moved, rotated or zoomed copy can
/// be sampled exactly: the flow tests and `bench flow` make frame pairs with known flow from it.
public struct SyntheticTexture: Sendable {
    var waves: [(fx: Double, fy: Double, phase: Double, amplitude: Double)] = []

    public init(seed: UInt64, shortest: Double = 7) {
        var s = seed &* 6364136223846793005 &+ 1442695040888963407
        func next() -> Double { s = s &* 6364136223846793005 &+ 1442695040888963407; return Double(s >> 11) / Double(1 << 53) }
        for _ in 0..<12 {
            let period = shortest + 33 * next(), angle = 2 * Double.pi * next()
            waves.append((cos(angle) * 2 * .pi / period, sin(angle) * 2 * .pi / period, 2 * .pi * next(), 12 + 8 * next()))
        }
    }

    /// The grey level at (x, y).
    public func callAsFunction(_ x: Double, _ y: Double) -> Double {
        128 + waves.reduce(0) { $0 + $1.amplitude * sin($1.fx * x + $1.fy * y + $1.phase) } * 0.5
    }

    /// A w x h picture of `f` (pixel centres at integer coordinates), clipped to 0-255 and rounded
    /// to 8-bit levels as frames are unless `rounded` is false.
    public static func render(_ w: Int, _ h: Int, rounded: Bool = true, _ f: (Double, Double) -> Double) -> Plane {
        var p = Plane(width: w, height: h)
        for y in 0..<h { for x in 0..<w {
            let g = max(0, min(255, f(Double(x), Double(y))))
            p[x, y] = Float(rounded ? g.rounded() : g)
        } }
        return p
    }
}
