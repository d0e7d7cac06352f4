import Foundation

/// Rendering through the `gnuplot` program: every plot is a data file plus a script, kept beside
/// the images so anyone can re-render or restyle them (`cd DIR && gnuplot NAME.gp`).
public enum Gnuplot {
    public enum Failure: Error, CustomStringConvertible, Equatable {
        case missing(searched: String)
        case failed(script: String, status: Int32, stderr: String)
        case noOutput(path: String)

        public var description: String {
            switch self {
            case .missing(let searched):
                return "gnuplot not found (\(searched)). Install Debian's package 'gnuplot-nox' "
                    + "(apt-get install gnuplot-nox, or `make deps`), or point VIPBENCH_GNUPLOT at the program."
            case .failed(let script, let status, let stderr):
                return "gnuplot failed on \(script) (exit \(status)): \(stderr.trimmingCharacters(in: .whitespacesAndNewlines))"
            case .noOutput(let path):
                return "gnuplot finished but did not write \(path)"
            }
        }
    }

    /// The gnuplot program: `VIPBENCH_GNUPLOT` if set, else the first `gnuplot` on PATH.
    public static func locate(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> String {
        if let explicit = environment["VIPBENCH_GNUPLOT"], !explicit.isEmpty {
            guard FileManager.default.isExecutableFile(atPath: explicit) else {
                throw Failure.missing(searched: "VIPBENCH_GNUPLOT=\(explicit) is not an executable file")
            }
            return explicit
        }
        guard let found = findExecutable("gnuplot", environment: environment) else { throw Failure.missing(searched: "not on PATH") }
        return found
    }

    /// `gnuplot --version`, or nil when gnuplot is missing.
    public static func version(environment: [String: String] = ProcessInfo.processInfo.environment) -> String? {
        guard let program = try? locate(environment: environment),
              let result = try? run(program, arguments: ["--version"], in: nil), result.status == 0
        else { return nil }
        return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// A plot to render: its base name, data files and script (which names its outputs relative to
    /// the output folder).
    public struct Figure: Sendable {
        public var name: String
        public var dataFiles: [String: String]
        /// Binary data (for example raw RGB pixels plotted `with rgbimage`).
        public var binaryFiles: [String: [UInt8]]
        public var script: String
        public var outputs: [String]

        public init(name: String, dataFiles: [String: String], binaryFiles: [String: [UInt8]] = [:], script: String, outputs: [String]) {
            self.name = name; self.dataFiles = dataFiles; self.binaryFiles = binaryFiles; self.script = script; self.outputs = outputs
        }
    }

    /// Writes the figure's data and script into `directory` and runs gnuplot there.
    /// Returns the paths of every file written: data, script, then images.
    @discardableResult
    public static func render(_ figure: Figure, into directory: String,
                              environment: [String: String] = ProcessInfo.processInfo.environment) throws -> [String] {
        let program = try locate(environment: environment)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var written: [String] = []
        for (file, contents) in figure.dataFiles.sorted(by: { $0.key < $1.key }) {
            let p = (directory as NSString).appendingPathComponent(file)
            try contents.write(toFile: p, atomically: true, encoding: .utf8)
            written.append(p)
        }
        for (file, bytes) in figure.binaryFiles.sorted(by: { $0.key < $1.key }) {
            let p = (directory as NSString).appendingPathComponent(file)
            try Data(bytes).write(to: URL(fileURLWithPath: p), options: .atomic)
            written.append(p)
        }
        let scriptName = figure.name + ".gp"
        let scriptPath = (directory as NSString).appendingPathComponent(scriptName)
        try figure.script.write(toFile: scriptPath, atomically: true, encoding: .utf8)
        written.append(scriptPath)
        for output in figure.outputs {
            try? FileManager.default.removeItem(atPath: (directory as NSString).appendingPathComponent(output))
        }
        let result = try run(program, arguments: [scriptName], in: directory)
        guard result.status == 0 else {
            throw Failure.failed(script: scriptPath, status: result.status, stderr: result.stderr)
        }
        for output in figure.outputs {
            let p = (directory as NSString).appendingPathComponent(output)
            let size = (try? FileManager.default.attributesOfItem(atPath: p)[.size] as? Int) ?? 0
            guard size > 0 else { throw Failure.noOutput(path: p) }
            written.append(p)
        }
        return written
    }

    struct Result { var status: Int32; var stdout: String; var stderr: String }

    static func run(_ program: String, arguments: [String], in directory: String?) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: program)
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        // Read both pipes before waiting so a chatty gnuplot cannot block on a full pipe.
        final class Box: @unchecked Sendable { var data = Data() }
        let errBox = Box()
        let done = DispatchSemaphore(value: 0)
        let errHandle = err.fileHandleForReading
        Thread { errBox.data = errHandle.readDataToEndOfFile(); done.signal() }.start()
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        done.wait()
        let errData = errBox.data
        return Result(status: process.terminationStatus,
                      stdout: String(decoding: outData, as: UTF8.self),
                      stderr: String(decoding: errData, as: UTF8.self))
    }

    /// Quotes a string for a gnuplot data file or script ("..." with escapes).
    public static func quoted(_ s: String) -> String {
        "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }
}

/// Reads the pixel size from a PNG file's IHDR chunk.
public func pngSize(atPath path: String) -> (width: Int, height: Int)? {
    guard let fh = FileHandle(forReadingAtPath: path) else { return nil }
    defer { try? fh.close() }
    let head = [UInt8](fh.readData(ofLength: 24))
    guard head.count == 24, head[0..<8] == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A],
          Array(head[12..<16]) == Array("IHDR".utf8) else { return nil }
    func be32(_ i: Int) -> Int { Int(head[i]) << 24 | Int(head[i + 1]) << 16 | Int(head[i + 2]) << 8 | Int(head[i + 3]) }
    return (be32(16), be32(20))
}

/// The first executable called `program` on PATH (the environment's), or nil.
public func findExecutable(_ program: String, environment: [String: String] = ProcessInfo.processInfo.environment) -> String? {
    let path = environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
    return path.split(separator: ":").map { "\($0)/\(program)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
}
