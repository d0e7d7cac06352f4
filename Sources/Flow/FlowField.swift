import Foundation

/// A dense flow field: horizontal (u, positive right) and vertical (v, positive down)
/// displacement in pixels from the first frame to the second.
public struct FlowField: Equatable, Sendable {
    public var u: Plane
    public var v: Plane
    public var width: Int { u.width }
    public var height: Int { u.height }

    public init(u: Plane, v: Plane) {
        precondition(u.width == v.width && u.height == v.height)
        self.u = u; self.v = v
    }

    /// Mean endpoint error against another field, over the pixels `mask` keeps (all when nil).
    public func endpointError(to other: FlowField, mask: ((Int, Int) -> Bool)? = nil) -> Double {
        precondition(width == other.width && height == other.height, "flow fields differ in size")
        var sum = 0.0, n = 0
        for y in 0..<height { for x in 0..<width where mask?(x, y) ?? true {
            let du = Double(u[x, y] - other.u[x, y]), dv = Double(v[x, y] - other.v[x, y])
            sum += (du * du + dv * dv).squareRoot(); n += 1
        } }
        return n == 0 ? 0 : sum / Double(n)
    }
}

/// The action-recognition storage convention: each component clipped to [-bound, bound] and
/// mapped to 0..255 by round(255 (c + bound) / (2 bound)); read back as q / 255 x 2 - 1 for a
/// network (I3D's [-1, 1]) or q / 255 x 2 bound - bound in pixels.
public struct FlowQuantisation: Codable, Equatable, Sendable {
    public var bound: Float

    public init(bound: Float = 20) { self.bound = bound }

    public func quantise(_ c: Float) -> UInt8 {
        let q = (255 * (c + bound) / (2 * bound)).rounded(.toNearestOrAwayFromZero)
        return UInt8(max(0, min(255, q.isNaN ? 127 : q)))
    }

    public func pixels(_ q: UInt8) -> Float { Float(q) / 255 * 2 * bound - bound }

    /// The network's input value in [-1, 1].
    public static func unit(_ q: UInt8) -> Float { Float(q) / 255 * 2 - 1 }

    /// Both components as 8-bit planes.
    public func quantise(_ f: FlowField) -> (x: [UInt8], y: [UInt8]) {
        (f.u.data.map(quantise), f.v.data.map(quantise))
    }

    public func field(x: [UInt8], y: [UInt8], width: Int, height: Int) -> FlowField {
        FlowField(u: Plane(width: width, height: height, data: x.map(pixels)),
                  v: Plane(width: width, height: height, data: y.map(pixels)))
    }
}
