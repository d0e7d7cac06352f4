import Flow
import Foundation

// Synthetic frame pairs with known flow, shared by the flow tests.

typealias Texture = SyntheticTexture

/// 8-bit grey levels of `f` at every pixel (see `SyntheticTexture.render`).
func render(_ w: Int, _ h: Int, rounded: Bool = true, _ f: (Double, Double) -> Double) -> Plane {
    SyntheticTexture.render(w, h, rounded: rounded, f)
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

