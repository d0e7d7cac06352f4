import Foundation
import XCTest

/// Runs the built `vipbench` tool as a separate process, the way users and CI do.
enum CLI {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().path

    /// A committed fixture, `Tests/Fixtures/<relative>`: its path, or (when it is not there) an
    /// error naming the path, so that a missing fixture fails the test instead of skipping it.
    static func fixture(_ relative: String) throws -> String {
        let path = packageRoot + "/Tests/Fixtures/" + relative
        guard FileManager.default.fileExists(atPath: path) else { throw MissingFixture(path: path) }
        return path
    }

    struct MissingFixture: Error, CustomStringConvertible {
        let path: String
        var description: String { "missing test fixture \(path) (it is committed under Tests/Fixtures)" }
    }

    /// The `vipbench` binary built beside the test bundle (or `VIPBENCH_BIN`).
    static func binary() throws -> String {
        var candidates: [String] = []
        if let explicit = ProcessInfo.processInfo.environment["VIPBENCH_BIN"] { candidates.append(explicit) }
        candidates.append(URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
            .appendingPathComponent("vipbench").path)
        if let exe = Bundle.main.executableURL {
            candidates.append(exe.deletingLastPathComponent().appendingPathComponent("vipbench").path)
        }
        for c in ["release", "debug"] { candidates.append("\(packageRoot)/.build/\(c)/vipbench") }
        guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw XCTSkip("vipbench binary not built (looked in \(candidates)); `make test` builds it first")
        }
        return found
    }

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// Starts the tool with this process's environment, less VIPBENCH_DB and `unsetting`, plus
    /// `environment`.
    static func start(_ arguments: [String], executable: String? = nil, environment: [String: String] = [:], unsetting: [String] = [],
                      directory: String? = nil) throws -> (Process, Pipe, Pipe) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: try executable ?? binary())
        p.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        env.removeValue(forKey: "VIPBENCH_DB")
        for name in unsetting { env.removeValue(forKey: name) }
        for (k, v) in environment { env[k] = v }
        p.environment = env
        p.currentDirectoryURL = URL(fileURLWithPath: directory ?? packageRoot)
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = FileHandle.nullDevice
        try p.run()
        return (p, out, err)
    }

    @discardableResult
    static func run(_ arguments: [String], environment: [String: String] = [:], unsetting: [String] = [],
                    directory: String? = nil) throws -> Result {
        try run(arguments: arguments, environment: environment, unsetting: unsetting, directory: directory)
    }

    /// `executable` (default: the tool) with `arguments`, to its end; stdout and stderr collected.
    static func run(arguments: [String], executable: String? = nil, environment: [String: String] = [:], unsetting: [String] = [],
                    directory: String? = nil) throws -> Result {
        let (p, out, err) = try start(arguments, executable: executable, environment: environment, unsetting: unsetting, directory: directory)
        final class Box: @unchecked Sendable { var data = Data() }
        let errBox = Box()
        let done = DispatchSemaphore(value: 0)
        let errHandle = err.fileHandleForReading
        Thread { errBox.data = errHandle.readDataToEndOfFile(); done.signal() }.start()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        done.wait()
        return Result(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self),
                      stderr: String(decoding: errBox.data, as: UTF8.self))
    }

    static func temporaryDirectory() throws -> String {
        let dir = NSTemporaryDirectory() + "vipbench-cli-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }
}
