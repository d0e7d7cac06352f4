import Flow
import Foundation

// Synthetic frame pairs with known flow, shared by the flow tests.

/// A band-limited texture: a sum of sinusoids with periods of `shortest` to shortest + 33
/// pixels, grey levels about 30-225. Continuous, so a moved copy can be sampled exactly.
struct Texture {
    var waves: [(fx: Double, fy: Double, phase: Double, amplitude: Double)] = []
    init(seed: UInt64, shortest: Double = 7) {
        var s = seed &* 6364136223846793005 &+ 1442695040888963407
        func next() -> Double { s = s &* 6364136223846793005 &+ 1442695040888963407; return Double(s >> 11) / Double(1 << 53) }
        for _ in 0..<12 {
            let period = shortest + 33 * next(), angle = 2 * Double.pi * next()
            waves.append((cos(angle) * 2 * .pi / period, sin(angle) * 2 * .pi / period, 2 * .pi * next(), 12 + 8 * next()))
        }
    }
    func callAsFunction(_ x: Double, _ y: Double) -> Double {
        128 + waves.reduce(0) { $0 + $1.amplitude * sin($1.fx * x + $1.fy * y + $1.phase) } * 0.5
    }
}

/// Renders 8-bit grey levels (rounded, as frames are) of `f` at every pixel.
func render(_ w: Int, _ h: Int, rounded: Bool = true, _ f: (Double, Double) -> Double) -> Plane {
    var p = Plane(width: w, height: h)
    for y in 0..<h { for x in 0..<w {
        let g = max(0, min(255, f(Double(x), Double(y))))
        p[x, y] = Float(rounded ? g.rounded() : g)
    } }
    return p
}

/// Mean endpoint error against `truth` over pixels at least `border` from the edges and kept
/// by `keep`.
func epe(_ f: FlowField, border: Int, keep: (Int, Int) -> Bool = { _, _ in true },
         truth: (Double, Double) -> (Double, Double)) -> Double {
    var sum = 0.0, n = 0
    for y in border..<(f.height - border) { for x in border..<(f.width - border) where keep(x, y) {
        let (u, v) = truth(Double(x), Double(y))
        let du = Double(f.u[x, y]) - u, dv = Double(f.v[x, y]) - v
        sum += (du * du + dv * dv).squareRoot(); n += 1
    } }
    return sum / Double(n)
}

