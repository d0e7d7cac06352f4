import Foundation

/// Errors reading or writing flow files; each names the file.
public struct FlowError: Error, CustomStringConvertible, Sendable {
    public var path: String
    public var message: String
    public init(path: String, message: String) { self.path = path; self.message = message }
    public var description: String { "\(path): \(message)" }
}

/// The Middlebury `.flo` format: "PIEH" (the float 202021.25), int32 width and height, then
/// rows of interleaved (u, v) float32, all little-endian.
public enum FloFile {
    static let tag: Float = 202021.25

    public static func write(_ f: FlowField, to path: String) throws {
        var bytes = Data(capacity: 12 + 8 * f.width * f.height)
        func put<T>(_ value: T) { withUnsafeBytes(of: value) { bytes.append(contentsOf: $0) } }
        put(tag.bitPattern.littleEndian)
        put(Int32(f.width).littleEndian); put(Int32(f.height).littleEndian)
        for i in 0..<(f.width * f.height) {
            put(f.u.data[i].bitPattern.littleEndian); put(f.v.data[i].bitPattern.littleEndian)
        }
        do { try bytes.write(to: URL(fileURLWithPath: path), options: .atomic) } catch {
            throw FlowError(path: path, message: "cannot write: \(error.localizedDescription)")
        }
    }

    public static func read(_ path: String) throws -> FlowField {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw FlowError(path: path, message: FileManager.default.fileExists(atPath: path) ? "cannot read the file" : "no such file")
        }
        guard data.count >= 12 else { throw FlowError(path: path, message: "too short for a .flo header (\(data.count) bytes)") }
        func u32(_ at: Int) -> UInt32 { data.withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: at, as: UInt32.self)) } }
        guard Float(bitPattern: u32(0)) == tag else { throw FlowError(path: path, message: "not a .flo file (no PIEH tag)") }
        let w = Int(Int32(bitPattern: u32(4))), h = Int(Int32(bitPattern: u32(8)))
        guard w > 0, h > 0, w < 100_000, h < 100_000 else { throw FlowError(path: path, message: "implausible size \(w)x\(h)") }
        guard data.count == 12 + 8 * w * h else {
            throw FlowError(path: path, message: "\(w)x\(h) needs \(12 + 8 * w * h) bytes, the file has \(data.count) (truncated?)")
        }
        var u = [Float](repeating: 0, count: w * h), v = u
        for i in 0..<(w * h) {
            u[i] = Float(bitPattern: u32(12 + 8 * i)); v[i] = Float(bitPattern: u32(16 + 8 * i))
        }
        return FlowField(u: Plane(width: w, height: h, data: u), v: Plane(width: w, height: h, data: v))
    }
}

/// The Middlebury colour coding of flow (Baker et al. 2011): hue gives the direction, saturation
/// the length relative to the longest vector (or `maximum`); unknown flow is black.
public enum FlowColour {
    /// The colour wheel: red-yellow 15, yellow-green 6, green-cyan 4, cyan-blue 11,
    /// blue-magenta 13, magenta-red 6 steps.
    static let wheel: [SIMD3<Float>] = {
        var w: [SIMD3<Float>] = []
        for i in 0..<15 { w.append([255, Float(255 * i / 15), 0]) }
        for i in 0..<6 { w.append([Float(255 - 255 * i / 6), 255, 0]) }
        for i in 0..<4 { w.append([0, 255, Float(255 * i / 4)]) }
        for i in 0..<11 { w.append([0, Float(255 - 255 * i / 11), 255]) }
        for i in 0..<13 { w.append([Float(255 * i / 13), 0, 255]) }
        for i in 0..<6 { w.append([255, 0, Float(255 - 255 * i / 6)]) }
        return w
    }()

    /// Packed RGB24 of the field; `maximum` is the length shown fully saturated (default: the
    /// longest vector). Returns the pixels and the maximum used.
    public static func render(_ f: FlowField, maximum: Float? = nil) -> (rgb: [UInt8], maximum: Float) {
        let n = f.width * f.height
        func known(_ i: Int) -> Bool { abs(f.u.data[i]) < 1e9 && abs(f.v.data[i]) < 1e9 && !f.u.data[i].isNaN && !f.v.data[i].isNaN }
        var longest: Float = 0
        for i in 0..<n where known(i) { longest = max(longest, (f.u.data[i] * f.u.data[i] + f.v.data[i] * f.v.data[i]).squareRoot()) }
        let scale = maximum ?? max(longest, 1e-6)
        var rgb = [UInt8](repeating: 0, count: 3 * n)
        let k = Float(wheel.count)
        for i in 0..<n where known(i) {
            let u = f.u.data[i] / scale, v = f.v.data[i] / scale
            let radius = (u * u + v * v).squareRoot()
            let angle = atan2(-v, -u) / Float.pi
            let fk = (angle + 1) / 2 * (k - 1)
            let k0 = Int(fk), k1 = (k0 + 1) % wheel.count
            let t = fk - Float(k0)
            let c = (1 - t) * wheel[k0] / 255 + t * wheel[k1] / 255
            for ch in 0..<3 {
                let value = radius <= 1 ? 1 - radius * (1 - c[ch]) : c[ch] * 0.75
                rgb[3 * i + ch] = UInt8(max(0, min(255, (255 * value).rounded(.down))))
            }
        }
        return (rgb, scale)
    }
}
