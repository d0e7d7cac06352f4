import Engine
import Foundation
import Media
import Plot
import Store

/// Facts about the machine, the native libraries and the checkout: what `vipbench env` prints and
/// what every run records.
public struct MachineInfo: Codable, Sendable {
    public struct CPU: Codable, Sendable { public var model: String; public var cores: Int; public var flags: [String] }
    public struct BLASInfo: Codable, Sendable {
        public var library: String; public var configuration: String; public var core: String; public var threads: Int
    }
    public struct SQLiteInfo: Codable, Sendable { public var version: String }
    public struct SwiftInfo: Codable, Sendable { public var compiler: String; public var toolchain: String? }
    public struct GitInfo: Codable, Sendable {
        public var commit: String?; public var dirty: Bool?; public var branch: String?

        /// Absent facts are written as null, so the keys are always there.
        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(commit, forKey: .commit)
            try c.encode(dirty, forKey: .dirty)
            try c.encode(branch, forKey: .branch)
        }
    }

    public var host: String
    public var os: String
    public var cpu: CPU
    public var blas: BLASInfo
    public var ffmpeg: FFmpegLibraries
    public var sqlite: SQLiteInfo
    /// `gnuplot --version`, or "missing".
    public var gnuplot: String
    public var swift: SwiftInfo
    public var git: GitInfo
    /// The processes of a data-parallel job (mpirun), nil for a single process.
    public var job: JobInfo?

    public struct JobInfo: Codable, Sendable {
        public var processes: Int
        /// Every process's host, in rank order.
        public var hosts: [String]
        public var threadsPerProcess: Int
        public init(processes: Int, hosts: [String], threadsPerProcess: Int) {
            self.processes = processes; self.hosts = hosts; self.threadsPerProcess = threadsPerProcess
        }
        /// "2 processes x 1 thread on a, b".
        public var summary: String {
            var seen: [String] = []
            for h in hosts where !seen.contains(h) { seen.append(h) }
            return "\(processes) processes x \(threadsPerProcess) thread(s) on \(seen.joined(separator: ", "))"
        }
    }

    /// Gathers everything. `toolchain` runs `swift --version` (slow-ish), so it is optional.
    public static func current(askToolchain: Bool = true, directory: String? = nil) -> MachineInfo {
        MachineInfo(
            host: ProcessInfo.processInfo.hostName,
            os: osDescription(),
            cpu: cpuInfo(),
            blas: BLASInfo(library: "OpenBLAS",
                           configuration: engineLibraries
                               + (ProcessTuning.inEffect.isEmpty ? "" : "; process tuning: " + ProcessTuning.inEffect),
                           core: BLAS.coreName, threads: BLAS.threads),
            ffmpeg: FFmpegLibraries.linked,
            sqlite: SQLiteInfo(version: SQLiteDatabase.libraryVersion),
            gnuplot: Gnuplot.version() ?? "missing",
            swift: SwiftInfo(compiler: compilerVersion,
                             toolchain: askToolchain ? shell("swift", ["--version"])?.firstLine : nil),
            git: gitInfo(directory: directory))
    }

    /// The provenance a run stores.
    public func provenance(commandLine: [String] = CommandLine.arguments) -> RunProvenance {
        RunProvenance(gitCommit: git.commit, gitDirty: git.dirty, host: job.map { "\(host) [\($0.summary)]" } ?? host,
                      pid: Int(ProcessInfo.processInfo.processIdentifier),
                      cpu: "\(cpu.model) (\(cpu.cores) cores)",
                      blas: blas.configuration, blasThreads: blas.threads,
                      swiftVersion: swift.toolchain ?? swift.compiler,
                      commandLine: commandLine.map(shellQuoted).joined(separator: " "))
    }

    static var compilerVersion: String {
        #if compiler(>=6.4)
        return "Swift compiler >= 6.4"
        #elseif compiler(>=6.3)
        return "Swift compiler 6.3"
        #elseif compiler(>=6.2)
        return "Swift compiler 6.2"
        #elseif compiler(>=6.1)
        return "Swift compiler 6.1"
        #else
        return "Swift compiler 6.0"
        #endif
    }

    static func cpuInfo() -> CPU {
        let text = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        var model = "unknown"
        var flags: [String] = []
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2 else { continue }
            if parts[0] == "model name", model == "unknown" { model = parts[1] }
            if parts[0] == "flags", flags.isEmpty {
                let interesting: Set<String> = ["avx", "avx2", "fma", "avx512f", "neon", "asimd"]
                flags = parts[1].split(separator: " ").map(String.init).filter { interesting.contains($0) }
            }
        }
        return CPU(model: model, cores: ProcessInfo.processInfo.activeProcessorCount, flags: flags)
    }

    static func osDescription() -> String {
        if let text = try? String(contentsOfFile: "/etc/os-release", encoding: .utf8) {
            for line in text.split(separator: "\n") where line.hasPrefix("PRETTY_NAME=") {
                return line.dropFirst("PRETTY_NAME=".count).trimmingCharacters(in: CharacterSet(charactersIn: "\""))
            }
        }
        return ProcessInfo.processInfo.operatingSystemVersionString
    }

    static func gitInfo(directory: String?) -> GitInfo {
        let dir = directory ?? FileManager.default.currentDirectoryPath
        guard let commit = shell("git", ["-C", dir, "rev-parse", "HEAD"])?.firstLine, commit.count >= 40 else {
            return GitInfo(commit: nil, dirty: nil, branch: nil)
        }
        let status = shell("git", ["-C", dir, "status", "--porcelain", "--untracked-files=no"])
        let branch = shell("git", ["-C", dir, "rev-parse", "--abbrev-ref", "HEAD"])?.firstLine
        return GitInfo(commit: commit, dirty: status.map { !$0.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty },
                       branch: branch)
    }
}

/// Runs a program found on PATH and returns its standard output, or nil if it failed or is absent.
func shell(_ program: String, _ arguments: [String]) -> String? {
    guard let exe = findExecutable(program) else { return nil }
    let p = Process()
    p.executableURL = URL(fileURLWithPath: exe)
    p.arguments = arguments
    let out = Pipe()
    p.standardOutput = out
    p.standardError = FileHandle.nullDevice
    p.standardInput = FileHandle.nullDevice
    do { try p.run() } catch { return nil }
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    guard p.terminationStatus == 0 else { return nil }
    return String(decoding: data, as: UTF8.self)
}

func shellQuoted(_ arg: String) -> String {
    let safe = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-_./=:,@+%"))
    if !arg.isEmpty && arg.unicodeScalars.allSatisfy({ safe.contains($0) }) { return arg }
    return "'" + arg.replacingOccurrences(of: "'", with: "'\\''") + "'"
}

extension String {
    var firstLine: String { split(separator: "\n").first.map(String.init) ?? "" }
}
