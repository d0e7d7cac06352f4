import Foundation

/// NumPy's `.npy` format (version 1.0/2.0, little-endian float32 or float64, C order): the input
/// and output of `vipbench model forward`.
public enum NPY {
    public static func read(_ path: String) throws -> (shape: [Int], values: [Float]) {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw SafetensorsError(source: path, message: FileManager.default.fileExists(atPath: path) ? "cannot be read" : "file not found")
        }
        let b = [UInt8](data)
        guard b.count >= 10, b[0] == 0x93, Array(b[1..<6]) == Array("NUMPY".utf8) else {
            throw SafetensorsError(source: path, message: "is not a .npy file")
        }
        let major = b[6]
        let (headerLength, start): (Int, Int) = major == 1
            ? (Int(b[8]) | Int(b[9]) << 8, 10)
            : (Int(b[8]) | Int(b[9]) << 8 | Int(b[10]) << 16 | Int(b[11]) << 24, 12)
        guard start + headerLength <= b.count else { throw SafetensorsError(source: path, message: "header runs past the end") }
        let header = String(decoding: b[start..<(start + headerLength)], as: UTF8.self)
        func field(_ key: String) -> String? {
            guard let r = header.range(of: "'\(key)':") else { return nil }
            return String(header[r.upperBound...]).trimmingCharacters(in: .whitespaces)
        }
        guard let descr = field("descr"), let shapeText = field("shape") else {
            throw SafetensorsError(source: path, message: "header lacks descr or shape: \(header)")
        }
        if field("fortran_order")?.hasPrefix("True") == true {
            throw SafetensorsError(source: path, message: "Fortran-ordered arrays are not supported; save with np.ascontiguousarray")
        }
        let isF4 = descr.hasPrefix("'<f4'"), isF8 = descr.hasPrefix("'<f8'")
        guard isF4 || isF8 else { throw SafetensorsError(source: path, message: "dtype \(descr.prefix(6)) is not little-endian float32 or float64") }
        let inside = shapeText.dropFirst().prefix { $0 != ")" }
        let shape = inside.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        let n = shape.reduce(1, *)
        let body = start + headerLength
        guard b.count - body >= n * (isF4 ? 4 : 8) else {
            throw SafetensorsError(source: path, message: "holds \(b.count - body) data bytes, shape \(shape) needs \(n * (isF4 ? 4 : 8)): truncated?")
        }
        let values: [Float] = b.withUnsafeBytes { raw in
            isF4 ? (0..<n).map { raw.loadUnaligned(fromByteOffset: body + $0 * 4, as: Float.self) }
                 : (0..<n).map { Float(raw.loadUnaligned(fromByteOffset: body + $0 * 8, as: Double.self)) }
        }
        return (shape, values)
    }

    public static func write(_ path: String, shape: [Int], values: [Float]) throws {
        precondition(values.count == shape.reduce(1, *), "npy: \(values.count) values for shape \(shape)")
        let dims = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': \(dims), }"
        while (10 + header.utf8.count + 1) % 64 != 0 { header += " " }
        header += "\n"
        var out: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(header.utf8.count & 0xff), UInt8(header.utf8.count >> 8)]
        out += Array(header.utf8)
        values.withUnsafeBytes { out += $0 }
        guard FileManager.default.createFile(atPath: path, contents: Data(out)) else {
            throw SafetensorsError(source: path, message: "cannot be written")
        }
    }
}
