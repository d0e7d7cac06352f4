import ArgumentParser
import Harness

struct EnvCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "env",
        abstract: "Show the machine, native libraries and checkout that results are produced with.",
        discussion: """
            Prints the CPU model and core count; the BLAS library with its build configuration and \
            thread count; the FFmpeg, SQLite and gnuplot versions; the Swift version; and the \
            project's git commit and whether the working tree has uncommitted changes. Every run \
            stores the same facts with its results.
            """)

    @Flag(help: "Print JSON (keys: cpu, blas, ffmpeg, sqlite, gnuplot, swift, git, host, os).")
    var json = false

    func run() throws {
        let info = MachineInfo.current()
        if json {
            print(try encodeJSON(info))
            return
        }
        let rows: [(String, String)] = [
            ("host", info.host),
            ("os", info.os),
            ("cpu", "\(info.cpu.model), \(info.cpu.cores) cores" + (info.cpu.flags.isEmpty ? "" : " (\(info.cpu.flags.joined(separator: " ")))")),
            ("blas", "\(info.blas.configuration), core \(info.blas.core), \(info.blas.threads) threads"),
            ("ffmpeg", "\(info.ffmpeg.release) (libavformat \(info.ffmpeg.avformat), libavcodec \(info.ffmpeg.avcodec), libavutil \(info.ffmpeg.avutil), libswscale \(info.ffmpeg.swscale))"),
            ("sqlite", info.sqlite.version),
            ("gnuplot", info.gnuplot),
            ("swift", info.swift.toolchain ?? info.swift.compiler),
            ("git", info.git.commit.map { c in "\(c)" + (info.git.dirty == true ? " (dirty)" : " (clean)") } ?? "not a git checkout"),
        ]
        let width = rows.map(\.0.count).max() ?? 0
        for (k, v) in rows { print(k.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + v) }
    }
}
