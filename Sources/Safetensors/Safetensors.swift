import Foundation

/// The safetensors container (huggingface/safetensors): an 8-byte little-endian header length, a
/// JSON header mapping each tensor name to `{dtype, shape, data_offsets}` plus an optional
/// `__metadata__` string map, then the raw little-endian tensor bytes. Python users read these
/// files with `safetensors.safe_open` or `safetensors.numpy.load_file`.
public struct SafetensorsFile: Sendable {
    public enum DType: String, Sendable, CaseIterable {
        case f32 = "F32", f64 = "F64", i64 = "I64", i32 = "I32", u8 = "U8", f16 = "F16", bf16 = "BF16"

        public var byteSize: Int {
            switch self {
            case .f64, .i64: return 8
            case .f32, .i32: return 4
            case .f16, .bf16: return 2
            case .u8: return 1
            }
        }
    }

    public struct Tensor: Sendable, Equatable {
        public var dtype: DType
        public var shape: [Int]
        /// Raw little-endian bytes.
        public var bytes: [UInt8]

        public var elementCount: Int { shape.reduce(1, *) }

        public init(dtype: DType, shape: [Int], bytes: [UInt8]) {
            self.dtype = dtype; self.shape = shape; self.bytes = bytes
        }

        public init(floats: [Float], shape: [Int]) {
            precondition(floats.count == shape.reduce(1, *), "safetensors: \(floats.count) values for shape \(shape)")
            dtype = .f32
            self.shape = shape
            bytes = floats.withUnsafeBytes { Array($0) }  // little-endian hosts only (x86-64, arm64)
        }

        public init(int64s: [Int64], shape: [Int]) {
            precondition(int64s.count == shape.reduce(1, *), "safetensors: \(int64s.count) values for shape \(shape)")
            dtype = .i64
            self.shape = shape
            bytes = int64s.withUnsafeBytes { Array($0) }
        }

        /// The values as Float32 (F32 directly; F64, F16 and BF16 converted).
        public func floats() -> [Float] {
            let n = elementCount
            switch dtype {
            case .f32:
                return bytes.withUnsafeBytes { raw in (0..<n).map { raw.loadUnaligned(fromByteOffset: $0 * 4, as: Float.self) } }
            case .f64:
                return bytes.withUnsafeBytes { raw in (0..<n).map { Float(raw.loadUnaligned(fromByteOffset: $0 * 8, as: Double.self)) } }
            case .f16:
                return bytes.withUnsafeBytes { raw in
                    (0..<n).map { Float(Float16(bitPattern: raw.loadUnaligned(fromByteOffset: $0 * 2, as: UInt16.self))) }
                }
            case .bf16:
                return bytes.withUnsafeBytes { raw in
                    (0..<n).map { Float(bitPattern: UInt32(raw.loadUnaligned(fromByteOffset: $0 * 2, as: UInt16.self)) << 16) }
                }
            case .i64, .i32, .u8:
                return int64s().map(Float.init)
            }
        }

        /// The values as Int64 (integer dtypes).
        public func int64s() -> [Int64] {
            let n = elementCount
            switch dtype {
            case .i64: return bytes.withUnsafeBytes { raw in (0..<n).map { raw.loadUnaligned(fromByteOffset: $0 * 8, as: Int64.self) } }
            case .i32: return bytes.withUnsafeBytes { raw in (0..<n).map { Int64(raw.loadUnaligned(fromByteOffset: $0 * 4, as: Int32.self)) } }
            case .u8: return bytes.map(Int64.init)
            default: return floats().map { Int64($0) }
            }
        }
    }

    public var tensors: [String: Tensor]
    public var metadata: [String: String]

    public init(tensors: [String: Tensor] = [:], metadata: [String: String] = [:]) {
        self.tensors = tensors; self.metadata = metadata
    }

    /// Serialises: tensors in name order, header padded with spaces to a multiple of 8 bytes.
    public func encoded() throws -> [UInt8] {
        var header: [String: Any] = [:]
        var offset = 0
        let names = tensors.keys.sorted()
        for name in names {
            let t = tensors[name]!
            guard t.bytes.count == t.elementCount * t.dtype.byteSize else {
                throw SafetensorsError(source: name, message: "has \(t.bytes.count) bytes, shape \(t.shape) of \(t.dtype.rawValue) needs \(t.elementCount * t.dtype.byteSize)")
            }
            header[name] = ["dtype": t.dtype.rawValue, "shape": t.shape, "data_offsets": [offset, offset + t.bytes.count]]
            offset += t.bytes.count
        }
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var json = [UInt8](try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys]))
        while json.count % 8 != 0 { json.append(0x20) }
        var out = [UInt8]()
        out.reserveCapacity(8 + json.count + offset)
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { out.append(contentsOf: $0) }
        out += json
        for name in names { out += tensors[name]!.bytes }
        return out
    }

    public func write(to path: String) throws {
        let bytes = try encoded()
        guard FileManager.default.createFile(atPath: path + ".partial", contents: Data(bytes)) else {
            throw SafetensorsError(source: path, message: "cannot be written")
        }
        if FileManager.default.fileExists(atPath: path) { try FileManager.default.removeItem(atPath: path) }
        try FileManager.default.moveItem(atPath: path + ".partial", toPath: path)
    }

    /// Parses a file, checking that every tensor's bytes lie inside the file and match its shape.
    public init(contentsOf path: String) throws {
        guard FileManager.default.fileExists(atPath: path) else { throw SafetensorsError(source: path, message: "file not found") }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw SafetensorsError(source: path, message: "cannot be read")
        }
        try self.init(bytes: [UInt8](data), source: path)
    }

    /// The metadata of a file, reading its header only (a checkpoint's tensors can be gigabytes).
    public static func metadata(ofFileAt path: String) throws -> [String: String] {
        func fail(_ m: String) -> SafetensorsError { SafetensorsError(source: path, message: m) }
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw fail(FileManager.default.fileExists(atPath: path) ? "cannot be read" : "file not found")
        }
        defer { try? handle.close() }
        let prefix: [UInt8]
        do { prefix = [UInt8](try handle.read(upToCount: 8) ?? Data()) } catch { throw fail("cannot be read: \(error)") }
        let headerLength = try Self.headerLength(prefix, available: nil, fail: fail)
        let header: Data
        do { header = try handle.read(upToCount: headerLength) ?? Data() } catch { throw fail("cannot be read: \(error)") }
        guard header.count == headerLength else { throw fail("is cut short inside its header (\(header.count) of \(headerLength) bytes)") }
        return try Self.metadata(in: try Self.headerObject(header, fail: fail), fail: fail)
    }

    /// The header's length from the file's first 8 bytes (little-endian), checked against the
    /// bytes that follow when they are known.
    static func headerLength(_ prefix: [UInt8], available: Int?, fail: (String) -> SafetensorsError) throws -> Int {
        guard prefix.count >= 8 else { throw fail("is too short to be a safetensors file (\(prefix.count) bytes)") }
        let length = prefix[0..<8].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        guard length < 100_000_000, available.map({ length <= UInt64($0) }) ?? true else {
            throw fail("is not a safetensors file (header length \(length) exceeds the file)")
        }
        return Int(length)
    }

    static func headerObject(_ header: Data, fail: (String) -> SafetensorsError) throws -> [String: Any] {
        guard let object = try? JSONSerialization.jsonObject(with: header) as? [String: Any] else {
            throw fail("is not a safetensors file (its header is not a JSON object)")
        }
        return object
    }

    static func metadata(in object: [String: Any], fail: (String) -> SafetensorsError) throws -> [String: String] {
        guard let value = object["__metadata__"] else { return [:] }
        guard let m = value as? [String: Any] else { throw fail("__metadata__ is not a map") }
        var metadata: [String: String] = [:]
        for (k, v) in m {
            guard let s = v as? String else { throw fail("metadata '\(k)' is not a string") }
            metadata[k] = s
        }
        return metadata
    }

    public init(bytes: [UInt8], source: String) throws {
        func fail(_ m: String) -> SafetensorsError { SafetensorsError(source: source, message: m) }
        let headerLength = try Self.headerLength(Array(bytes.prefix(8)), available: bytes.count - 8, fail: fail)
        let headerEnd = 8 + headerLength
        let object = try Self.headerObject(Data(bytes[8..<headerEnd]), fail: fail)
        let metadata = try Self.metadata(in: object, fail: fail)
        var tensors: [String: Tensor] = [:]
        let dataCount = bytes.count - headerEnd
        for (name, value) in object where name != "__metadata__" {
            guard let entry = value as? [String: Any],
                  let dtypeName = entry["dtype"] as? String,
                  let shape = (entry["shape"] as? [Any])?.compactMap({ ($0 as? NSNumber)?.intValue }),
                  let offsets = (entry["data_offsets"] as? [Any])?.compactMap({ ($0 as? NSNumber)?.intValue }),
                  offsets.count == 2 else {
                throw fail("tensor '\(name)' has a malformed header entry")
            }
            guard let dtype = DType(rawValue: dtypeName) else { throw fail("tensor '\(name)' has unsupported dtype \(dtypeName)") }
            guard shape.allSatisfy({ $0 >= 0 }), offsets[0] >= 0, offsets[0] <= offsets[1], offsets[1] <= dataCount else {
                throw fail("tensor '\(name)' lies outside the file (offsets \(offsets), \(dataCount) data bytes): truncated?")
            }
            let expected = shape.reduce(1, *) * dtype.byteSize
            guard offsets[1] - offsets[0] == expected else {
                throw fail("tensor '\(name)' has \(offsets[1] - offsets[0]) bytes, shape \(shape) of \(dtypeName) needs \(expected)")
            }
            tensors[name] = Tensor(dtype: dtype, shape: shape,
                                   bytes: Array(bytes[(headerEnd + offsets[0])..<(headerEnd + offsets[1])]))
        }
        self.tensors = tensors
        self.metadata = metadata
    }
}

public struct SafetensorsError: Error, CustomStringConvertible, Equatable {
    public var source: String
    public var message: String
    public init(source: String, message: String) { self.source = source; self.message = message }
    public var description: String { "\(source): \(message)" }
}
