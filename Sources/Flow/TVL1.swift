import Foundation

/// Dense optical flow by TV-L1 (Zach, Pock and Bischof 2007) in the dual formulation with the
/// thresholding step, coarse to fine, with several warps per level: the algorithm of Sanchez,
/// Meinhardt-Llopis and Facciolo (IPOL 2013) as OpenCV's `DualTVL1OpticalFlow` implements it
/// (its discretisation, pyramid, bicubic warping and stopping rule), so that the `opencv-cpu`
/// preset gives OpenCV's flow.
///
/// Each iteration runs as two fused passes over the image (OpenCV makes six): thresholding,
/// divergence and primal update; then the forward gradient and the dual update. The solver is
/// single-threaded and allocation-free inside its loops; extraction runs pairs in parallel.
public struct TVL1 {
    public var parameters: TVL1Parameters

    public init(_ parameters: TVL1Parameters = .opencvCPU) {
        self.parameters = parameters
    }

    /// Flow from `i0` to `i1` (grey levels 0-255, same size): `i0(x) ~ i1(x + flow(x))`.
    public func flow(from i0: Plane, to i1: Plane) -> FlowField {
        precondition(i0.width == i1.width && i0.height == i1.height, "frames differ in size")
        precondition(parameters.problem == nil, parameters.problem ?? "")
        let p = parameters
        var level0 = i0, level1 = i1
        if p.presmoothingSigma > 0 {
            level0 = level0.gaussianBlurred(sigma: p.presmoothingSigma)
            level1 = level1.gaussianBlurred(sigma: p.presmoothingSigma)
        }
        // The pyramid: OpenCV's resize(fx = scaleStep) (size rounded, scale exactly 1 / step),
        // stopping before a level under the minimum size.
        var pyramid: [(Plane, Plane)] = [(level0, level1)]
        while pyramid.count < p.scales {
            let (a, b) = pyramid.last!
            let w = Int((Double(a.width) * p.scaleStep).rounded()), h = Int((Double(a.height) * p.scaleStep).rounded())
            if w < p.minimumLevelSize || h < p.minimumLevelSize { break }
            let s = (1 / p.scaleStep, 1 / p.scaleStep)
            var (na, nb) = (a, b)
            if p.presmoothingSigma > 0 {
                // IPOL smooths before each zoom-out (sigma 0.6 sqrt(1/step^2 - 1)).
                let sigma = 0.6 * (1 / (p.scaleStep * p.scaleStep) - 1).squareRoot()
                na = na.gaussianBlurred(sigma: sigma); nb = nb.gaussianBlurred(sigma: sigma)
            }
            pyramid.append((na.resized(width: w, height: h, scale: s), nb.resized(width: w, height: h, scale: s)))
        }
        var u = Plane(width: pyramid.last!.0.width, height: pyramid.last!.0.height)
        var v = u
        var workspace = Workspace(count: i0.width * i0.height)
        for level in stride(from: pyramid.count - 1, through: 0, by: -1) {
            let (a, b) = pyramid[level]
            if u.width != a.width || u.height != a.height {
                // Up one level: resize the flow (size ratio) and scale it by 1 / step.
                let factor = Float(1 / p.scaleStep)
                u = u.resized(width: a.width, height: a.height); v = v.resized(width: a.width, height: a.height)
                for i in 0..<u.data.count { u.data[i] *= factor; v.data[i] *= factor }
            }
            solveLevel(a, b, &u, &v, &workspace)
        }
        return FlowField(u: u, v: v)
    }

    /// Buffers for one level, allocated once at the finest size.
    struct Workspace {
        var i1w, i1wx, i1wy, grad, rho, p11, p12, p21, p22, rowError: [Float]
        init(count n: Int) {
            i1w = [Float](repeating: 0, count: n)
            (i1wx, i1wy, grad, rho, p11, p12, p21, p22) = (i1w, i1w, i1w, i1w, i1w, i1w, i1w, i1w)
            rowError = i1w
        }
    }

    func solveLevel(_ i0: Plane, _ i1: Plane, _ u: inout Plane, _ v: inout Plane, _ ws: inout Workspace) {
        let p = parameters
        let (w, h) = (i0.width, i0.height)
        let n = w * h
        let (gx, gy) = i1.centredGradient()
        let scaledEpsilon = Float(p.epsilon * p.epsilon * Double(n))
        let lt = Float(p.lambda * p.theta), taut = Float(p.tau / p.theta), theta = Float(p.theta)
        // The dual field starts at zero once per level and carries over between warps (OpenCV).
        for i in 0..<n { ws.p11[i] = 0; ws.p12[i] = 0; ws.p21[i] = 0; ws.p22[i] = 0 }
        for _ in 0..<p.warps {
            Warp.bicubic([i1, gx, gy], by: u, v, into: &ws.i1w, &ws.i1wx, &ws.i1wy)
            for i in 0..<n {
                let ix = ws.i1wx[i], iy = ws.i1wy[i]
                ws.grad[i] = ix * ix + iy * iy
                ws.rho[i] = ws.i1w[i] - ix * u.data[i] - iy * v.data[i] - i0.data[i]
            }
            var error = Float.greatestFiniteMagnitude
            var outer = 0
            while error > scaledEpsilon && outer < p.outerIterations {
                if p.medianFiltering > 1 {
                    u = Median.filter(u, size: p.medianFiltering)
                    v = Median.filter(v, size: p.medianFiltering)
                }
                var inner = 0
                while error > scaledEpsilon && inner < p.innerIterations {
                    error = Self.primalStep(w, h, &u.data, &v.data, &ws, lt: lt, theta: theta)
                    Self.dualStep(w, h, u.data, v.data, &ws, taut: taut)
                    inner += 1
                }
                outer += 1
            }
        }
    }

    /// Thresholding (the data term's proximal step), the divergence of the dual field and the
    /// primal update u = v + theta div p, in one pass. Returns the sum of squared changes of u,
    /// added in pixel order in one running Float sum as OpenCV does (the stopping test compares
    /// it with epsilon^2 x area, so the order decides when a level stops).
    ///
    /// The loops are branch-free so that they vectorise: the first row's missing neighbours
    /// read a row of zeros, and the first column is done on its own.
    static func primalStep(_ w: Int, _ h: Int, _ u1: inout [Float], _ u2: inout [Float], _ ws: inout Workspace,
                           lt: Float, theta: Float) -> Float {
        var total: Float = 0
        let zeros = [Float](repeating: 0, count: w)
        u1.withUnsafeMutableBufferPointer { u1p in u2.withUnsafeMutableBufferPointer { u2p in
        ws.i1wx.withUnsafeBufferPointer { ixp in ws.i1wy.withUnsafeBufferPointer { iyp in
        ws.grad.withUnsafeBufferPointer { gp in ws.rho.withUnsafeBufferPointer { rp in
        ws.p11.withUnsafeBufferPointer { p11 in ws.p12.withUnsafeBufferPointer { p12 in
        ws.p21.withUnsafeBufferPointer { p21 in ws.p22.withUnsafeBufferPointer { p22 in
        zeros.withUnsafeBufferPointer { zp in ws.rowError.withUnsafeMutableBufferPointer { ep in
            let errors = ep.baseAddress!
            for y in 0..<h {
                let o = y * w
                let (u1r, u2r, ix, iy, g, rho) = (u1p.baseAddress! + o, u2p.baseAddress! + o, ixp.baseAddress! + o,
                                                  iyp.baseAddress! + o, gp.baseAddress! + o, rp.baseAddress! + o)
                let (a11, a12, a21, a22) = (p11.baseAddress! + o, p12.baseAddress! + o, p21.baseAddress! + o, p22.baseAddress! + o)
                let a12up = y > 0 ? a12 - w : zp.baseAddress!, a22up = y > 0 ? a22 - w : zp.baseAddress!
                @inline(__always) func update(_ x: Int, _ d1x: Float, _ d2x: Float) {
                    // v = TH(u): the closed-form minimiser of the linearised data term.
                    let gx = g[x], r = rho[x] + ix[x] * u1r[x] + iy[x] * u2r[x]
                    let ltg = lt * gx
                    let clamped = min(max(-r / max(gx, Float.ulpOfOne), -lt), lt)
                    let flat: Float = r < -ltg ? lt : (r > ltg ? -lt : 0)
                    let fi = gx > Float.ulpOfOne ? clamped : flat
                    let n1 = u1r[x] + fi * ix[x] + theta * (d1x + a12[x] - a12up[x])
                    let n2 = u2r[x] + fi * iy[x] + theta * (d2x + a22[x] - a22up[x])
                    let e1 = n1 - u1r[x], e2 = n2 - u2r[x]
                    u1r[x] = n1; u2r[x] = n2
                    errors[x] = e1 * e1 + e2 * e2
                }
                update(0, a11[0], a21[0])
                for x in 1..<w { update(x, a11[x] - a11[x - 1], a21[x] - a21[x - 1]) }
                for x in 0..<w { total += errors[x] }
            }
        } } } } } } } } } } } }
        return total
    }

    /// Forward differences of u (zero past the last row and column) and the dual update
    /// p = (p + taut grad u) / (1 + taut |grad u|), in one pass. The last row reads itself as
    /// its next row (a zero difference) and the last column is done on its own.
    static func dualStep(_ w: Int, _ h: Int, _ u1: [Float], _ u2: [Float], _ ws: inout Workspace, taut: Float) {
        u1.withUnsafeBufferPointer { u1p in u2.withUnsafeBufferPointer { u2p in
        ws.p11.withUnsafeMutableBufferPointer { p11 in ws.p12.withUnsafeMutableBufferPointer { p12 in
        ws.p21.withUnsafeMutableBufferPointer { p21 in ws.p22.withUnsafeMutableBufferPointer { p22 in
            for y in 0..<h {
                let o = y * w
                let (u1r, u2r) = (u1p.baseAddress! + o, u2p.baseAddress! + o)
                let (u1n, u2n) = y < h - 1 ? (u1r + w, u2r + w) : (u1r, u2r)
                let (a11, a12, a21, a22) = (p11.baseAddress! + o, p12.baseAddress! + o, p21.baseAddress! + o, p22.baseAddress! + o)
                @inline(__always) func update(_ x: Int, _ u1x: Float, _ u2x: Float) {
                    let u1y = u1n[x] - u1r[x], u2y = u2n[x] - u2r[x]
                    let ng1 = 1 + taut * (u1x * u1x + u1y * u1y).squareRoot()
                    let ng2 = 1 + taut * (u2x * u2x + u2y * u2y).squareRoot()
                    a11[x] = (a11[x] + taut * u1x) / ng1
                    a12[x] = (a12[x] + taut * u1y) / ng1
                    a21[x] = (a21[x] + taut * u2x) / ng2
                    a22[x] = (a22[x] + taut * u2y) / ng2
                }
                for x in 0..<(w - 1) { update(x, u1r[x + 1] - u1r[x], u2r[x + 1] - u2r[x]) }
                update(w - 1, 0, 0)
            }
        } } } } } }
    }
}

/// OpenCV 5's `remap(INTER_CUBIC, BORDER_CONSTANT 0)`: Keys' cubic with a = -0.75 at the exact
/// sub-pixel position, taps outside the image read as zero. (OpenCV 4 rounded positions to
/// 1/32 pixel; OpenCV 5.0, which the fixtures come from, does not.)
enum Warp {
    /// Cubic weights of the four taps around fractional position x in [0, 1).
    @inline(__always)
    static func weights(_ x: Float) -> SIMD4<Float> {
        let a: Float = -0.75
        let c0 = ((a * (x + 1) - 5 * a) * (x + 1) + 8 * a) * (x + 1) - 4 * a
        let c1 = ((a + 2) * x - (a + 3)) * x * x + 1
        let c2 = ((a + 2) * (1 - x) - (a + 3)) * (1 - x) * (1 - x) + 1
        return SIMD4(c0, c1, c2, 1 - c0 - c1 - c2)
    }

    /// Samples the three planes at (x + u, y + v) for every pixel.
    static func bicubic(_ planes: [Plane], by u: Plane, _ v: Plane,
                        into o0: inout [Float], _ o1: inout [Float], _ o2: inout [Float]) {
        let (w, h) = (u.width, u.height)
        planes[0].data.withUnsafeBufferPointer { s0 in planes[1].data.withUnsafeBufferPointer { s1 in
        planes[2].data.withUnsafeBufferPointer { s2 in
        o0.withUnsafeMutableBufferPointer { d0 in o1.withUnsafeMutableBufferPointer { d1 in o2.withUnsafeMutableBufferPointer { d2 in
            for y in 0..<h { for x in 0..<w {
                let i = y * w + x
                let px = Float(x) + u.data[i], py = Float(y) + v.data[i]
                guard abs(px) < 1e7 && abs(py) < 1e7 else { d0[i] = 0; d1[i] = 0; d2[i] = 0; continue }
                let fx = px.rounded(.down), fy = py.rounded(.down)
                let sx = Int(fx) - 1, sy = Int(fy) - 1
                let wx = weights(px - fx), wy = weights(py - fy)
                if sx >= 0 && sx + 3 < w && sy >= 0 && sy + 3 < h {
                    var a0: Float = 0, a1: Float = 0, a2: Float = 0
                    for r in 0..<4 {
                        let row = (sy + r) * w + sx
                        let q0 = SIMD4(s0[row], s0[row + 1], s0[row + 2], s0[row + 3])
                        let q1 = SIMD4(s1[row], s1[row + 1], s1[row + 2], s1[row + 3])
                        let q2 = SIMD4(s2[row], s2[row + 1], s2[row + 2], s2[row + 3])
                        a0 += wy[r] * (q0 * wx).sum(); a1 += wy[r] * (q1 * wx).sum(); a2 += wy[r] * (q2 * wx).sum()
                    }
                    d0[i] = a0; d1[i] = a1; d2[i] = a2
                } else {
                    var a0: Float = 0, a1: Float = 0, a2: Float = 0
                    for r in 0..<4 {
                        let yy = sy + r
                        guard yy >= 0 && yy < h else { continue }
                        for c in 0..<4 {
                            let xx = sx + c
                            guard xx >= 0 && xx < w else { continue }
                            let k = wy[r] * wx[c], j = yy * w + xx
                            a0 += k * s0[j]; a1 += k * s1[j]; a2 += k * s2[j]
                        }
                    }
                    d0[i] = a0; d1[i] = a1; d2[i] = a2
                }
            } }
        } } } } } }
    }
}
