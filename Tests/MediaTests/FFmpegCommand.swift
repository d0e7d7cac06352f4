import Foundation
import XCTest

/// The `ffmpeg` command the Media tests compare against (a skip when it is not installed).
enum FFmpegCommand {
    static func program() throws -> String {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":") {
            if FileManager.default.isExecutableFile(atPath: "\(dir)/ffmpeg") { return "\(dir)/ffmpeg" }
        }
        throw XCTSkip("the ffmpeg command is not installed (make deps installs it)")
    }

    /// Runs `ffmpeg -v error -nostdin ARGS`: its exit status, standard output and standard error.
    static func run(_ arguments: [String]) throws -> (status: Int32, output: Data, error: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: try program())
        p.arguments = ["-v", "error", "-nostdin"] + arguments
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        // `-v error` keeps standard error short, so reading it after standard output cannot stall.
        let data = out.fileHandleForReading.readDataToEndOfFile()
        let message = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, data, String(decoding: message, as: UTF8.self))
    }
}
