import Foundation
import Safetensors
import XCTest

/// vipbench under Open MPI's `mpirun` with 2 ranks, as a cluster user runs it (`make deps`
/// installs openmpi-bin; as root, mpirun needs --allow-run-as-root).
final class DistributedCLITests: XCTestCase {
    /// mpirun's path, or a failure saying how to get it (never a skip: CI installs it).
    static func mpirun() throws -> String {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":") {
            let path = String(dir) + "/mpirun"
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        throw MissingMPI()
    }

    struct MissingMPI: Error, CustomStringConvertible {
        var description: String { "mpirun not found on PATH: `make deps` installs Open MPI (openmpi-bin, libopenmpi-dev)" }
    }

    /// `mpirun -np ranks vipbench arguments...`.
    static func arguments(ranks: Int, _ arguments: [String]) throws -> [String] {
        ["--oversubscribe"] + (getuid() == 0 ? ["--allow-run-as-root"] : []) + ["-np", "\(ranks)", try CLI.binary()] + arguments
    }

    @discardableResult
    static func run(ranks: Int, _ arguments: [String]) throws -> CLI.Result {
        try CLI.run(arguments: try Self.arguments(ranks: ranks, arguments), executable: try mpirun())
    }

    /// Starts `mpirun -np 2 vipbench arguments`, waits until `progress()` reaches `after`, kills
    /// rank 1 with SIGKILL and returns mpirun's status and stderr once the job has ended.
    static func killRank(_ arguments: [String], after: Int, progress: () -> Int) throws -> (status: Int32, stderr: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: try mpirun())
        p.arguments = try Self.arguments(ranks: 2, arguments)
        let err = Pipe()
        p.standardOutput = FileHandle.nullDevice; p.standardError = err
        try p.run()
        let deadline = Date().addingTimeInterval(120)
        while progress() < after && p.isRunning && Date() < deadline { usleep(10_000) }
        XCTAssertTrue(p.isRunning, "the job finished before a rank could be killed")
        let ranks = children(of: p.processIdentifier)
        XCTAssertEqual(ranks.count, 2, "mpirun's ranks: \(ranks)")
        if let victim = ranks.last { kill(victim, SIGKILL) }
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self))
    }

    static func json(_ text: String) -> [String: Any]? {
        text.split(separator: "\n").last.flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }

    /// Acceptance 1 and 2 of the MPI issue: one SGD step of a scaled R3D-18 with synchronised
    /// batch norm by 2 ranks x 8 clips against one process x 16, and TCLR's loss with embeddings
    /// gathered from both ranks against one process on the whole batch.
    func testTwoRanksTakeTheStepOneProcessTakes() throws {
        let r = try Self.run(ranks: 2, ["debug", "data-parallel-check", "--json"])
        XCTAssertEqual(r.status, 0, r.stdout + r.stderr)
        let report = try XCTUnwrap(Self.json(r.stdout), r.stdout + r.stderr)
        XCTAssertEqual(report["processes"] as? Int, 2)
        XCTAssertEqual(report["clips_here"] as? Int, 8)
        for part in ["classifier", "tclr"] {
            let c = try XCTUnwrap(report[part] as? [String: Any], part)
            let whole = try XCTUnwrap(c["whole_loss"] as? Double), parallel = try XCTUnwrap(c["parallel_loss"] as? Double)
            XCTAssertGreaterThan(whole, 0.1, part)
            XCTAssertEqual(parallel, whole, accuracy: 1e-5 * whole, part)
            for key in ["gradient_relative_error", "worst_tensor_gradient_relative_error"] {
                XCTAssertLessThan(try XCTUnwrap(c[key] as? Double, "\(part).\(key)"), 1e-5, "\(part).\(key)")
            }
        }
        let classifier = try XCTUnwrap(report["classifier"] as? [String: Any])
        XCTAssertLessThan(try XCTUnwrap(classifier["weight_relative_error"] as? Double), 1e-5)
        XCTAssertLessThan(try XCTUnwrap(classifier["buffer_relative_error"] as? Double), 1e-5)
    }

    /// A short training run by 2 ranks (synchronised batch norm, batch 8 = 4 + 4) validates as one
    /// process with batch 8 does, epoch after epoch; rank 0 alone writes the checkpoint, which
    /// records the world size.
    ///
    /// Weights are not compared after several steps: at these tiny sizes the gradient's kinks
    /// (a ReLU input at zero) turn float-order differences into visible ones within a few steps, as
    /// any perturbation of that size does in one process (the one-step equality is the test above).
    func testTwoRankTrainingMatchesOneProcess() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let data = dir + "/data"
        let synth = try CLI.run(["dataset", "synth", "--out", data, "--classes", "4", "--per-class", "4,2,1"])
        XCTAssertEqual(synth.status, 0, synth.stderr)
        func arguments(_ out: String) -> [String] {
            ["train", "r3d18", "--data", data, "--out", out, "--width", "0.125", "--clip", "8x2", "--short-side", "40",
             "--crop", "32", "--batch", "8", "--epochs", "3", "--lr", "0.01", "--flip", "0", "--normalise", "slowfast",
             "--seed", "3", "--threads", "1", "--workers", "1", "--sync-batch-norm", "--json"]
        }
        let one = try CLI.run(arguments(dir + "/one"))
        XCTAssertEqual(one.status, 0, one.stderr)
        let two = try Self.run(ranks: 2, arguments(dir + "/two"))
        XCTAssertEqual(two.status, 0, two.stdout + two.stderr)
        XCTAssertTrue(two.stderr.contains("data-parallel: 2 processes"), two.stderr)
        let a = try XCTUnwrap(Self.json(one.stdout)), b = try XCTUnwrap(Self.json(two.stdout), two.stdout)
        XCTAssertEqual(a["configuration_hash"] as? String, b["configuration_hash"] as? String)
        XCTAssertEqual(b["steps"] as? Int, 6)
        let ha = try XCTUnwrap(a["history"] as? [[String: Any]]), hb = try XCTUnwrap(b["history"] as? [[String: Any]])
        XCTAssertEqual(ha.count, 3)
        XCTAssertEqual(hb.count, 3)
        for (x, y) in zip(ha, hb) {
            let vx = try XCTUnwrap(x["validation"] as? [String: Any]), vy = try XCTUnwrap(y["validation"] as? [String: Any])
            XCTAssertEqual(vx["videos"] as? Int, 8)
            XCTAssertEqual(vy["videos"] as? Int, 8, "the ranks' validation shards add up to the whole split")
            XCTAssertEqual(try XCTUnwrap(vx["top1"] as? Double), try XCTUnwrap(vy["top1"] as? Double))
            XCTAssertEqual(try XCTUnwrap(vx["loss"] as? Double), try XCTUnwrap(vy["loss"] as? Double), accuracy: 1e-3)
        }
        // After the first epoch (2 steps) the runs still agree to float precision.
        let first = try XCTUnwrap((ha[0]["validation"] as? [String: Any])?["loss"] as? Double)
        let firstParallel = try XCTUnwrap((hb[0]["validation"] as? [String: Any])?["loss"] as? Double)
        XCTAssertEqual(first, firstParallel, accuracy: 1e-6 * first)
        XCTAssertEqual(try XCTUnwrap(ha[0]["mean_loss"] as? Double), try XCTUnwrap(hb[0]["mean_loss"] as? Double), accuracy: 1e-6)

        let x = try SafetensorsFile(contentsOf: dir + "/one/latest.safetensors")
        let y = try SafetensorsFile(contentsOf: dir + "/two/latest.safetensors")
        XCTAssertNil(x.metadata["world_size"])
        XCTAssertEqual(y.metadata["world_size"], "2")

        // A finished run is returned as it is, whatever the number of processes.
        let again = try CLI.run(arguments(dir + "/two") + ["--resume"])
        XCTAssertEqual(again.status, 0, again.stderr)
    }

    /// A rank killed with SIGKILL mid-run takes the job down (mpirun names it; nothing waits
    /// forever); a resume without mpirun is refused, saying why, and the job started again with
    /// --resume ends with the weights of an uninterrupted 2-rank run, bit for bit.
    func testKilledRankEndsTheJobAndResumeIsBitIdentical() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let data = dir + "/data"
        XCTAssertEqual(try CLI.run(["dataset", "synth", "--out", data, "--classes", "4", "--per-class", "4,2,1"]).status, 0)
        func arguments(_ out: String) -> [String] {
            ["train", "r3d18", "--data", data, "--out", out, "--width", "0.125", "--clip", "8x2", "--short-side", "40",
             "--crop", "32", "--batch", "4", "--epochs", "3", "--lr", "0.01", "--flip", "0", "--normalise", "slowfast",
             "--seed", "3", "--threads", "1", "--workers", "1", "--checkpoint-every", "1"]
        }
        let full = try Self.run(ranks: 2, arguments(dir + "/full"))
        XCTAssertEqual(full.status, 0, full.stderr)

        func steps() -> Int {
            guard let text = try? String(contentsOfFile: dir + "/cut/log.jsonl", encoding: .utf8) else { return 0 }
            return text.split(separator: "\n").filter { $0.contains("\"kind\":\"step\"") }.count
        }
        let (status, message) = try Self.killRank(arguments(dir + "/cut"), after: 6, progress: steps)
        XCTAssertNotEqual(status, 0)
        XCTAssertTrue(message.contains("rank 1"), message)

        // An unfinished 2-rank run does not resume in one process: the parts of each batch and
        // the order of the sums would change.
        let single = try CLI.run(arguments(dir + "/cut") + ["--resume"])
        XCTAssertNotEqual(single.status, 0)
        XCTAssertTrue(single.stderr.contains("2 process(es)") && single.stderr.contains("mpirun -np 2"), single.stderr)
        let resumed = try Self.run(ranks: 2, arguments(dir + "/cut") + ["--resume"])
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertTrue(resumed.stderr.contains("resuming at epoch"), resumed.stderr)
        let a = try SafetensorsFile(contentsOf: dir + "/full/latest.safetensors").tensors.filter { $0.key.hasPrefix("model/") }
        let b = try SafetensorsFile(contentsOf: dir + "/cut/latest.safetensors").tensors.filter { $0.key.hasPrefix("model/") }
        XCTAssertEqual(a.count, b.count)
        XCTAssertEqual(a, b, "the resumed 2-rank run's weights differ from the uninterrupted one's")
    }

    /// Flow extraction shared by 2 ranks writes the files one process writes; after a rank is
    /// killed mid-way the job ends (mpirun names the rank) and a restart extracts only what is missing.
    func testShardedFlowExtractionAndRestart() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let data = dir + "/data"
        XCTAssertEqual(try CLI.run(["dataset", "synth", "--out", data, "--classes", "4", "--per-class", "3,1,1"]).status, 0)
        let one = try CLI.run(["flow", "extract", "--data", data, "--out", dir + "/one", "--short-side", "24", "--jobs", "1"])
        XCTAssertEqual(one.status, 0, one.stderr)
        let two = try Self.run(ranks: 2, ["flow", "extract", "--data", data, "--out", dir + "/two", "--short-side", "24", "--json"])
        XCTAssertEqual(two.status, 0, two.stderr)
        let summary = try XCTUnwrap(Self.json(two.stdout), two.stdout)
        XCTAssertEqual(summary["videos"] as? Int, 20)
        XCTAssertEqual(summary["extracted"] as? Int, 20)
        let files = try FileManager.default.subpathsOfDirectory(atPath: dir + "/one").filter { $0.hasSuffix(".mkv") || $0.hasSuffix(".json") }.sorted()
        XCTAssertEqual(files.count, 40)
        for f in files {
            XCTAssertEqual(FileManager.default.contents(atPath: dir + "/one/" + f), FileManager.default.contents(atPath: dir + "/two/" + f), f)
        }

        // A longer job (larger frames), one rank killed with SIGKILL once some videos are done.
        let out = dir + "/killed"
        func done() -> Int { ((try? FileManager.default.subpathsOfDirectory(atPath: out)) ?? []).filter { $0.hasSuffix(".json") }.count }
        let (status, message) = try Self.killRank(["flow", "extract", "--data", data, "--out", out, "--short-side", "64", "--json"],
                                                  after: 3, progress: done)
        XCTAssertNotEqual(status, 0)
        XCTAssertTrue(message.contains("rank 1") || message.contains("rank 0"), message)
        let before = done()
        XCTAssertLessThan(before, 20)
        let again = try Self.run(ranks: 2, ["flow", "extract", "--data", data, "--out", out, "--short-side", "64", "--json"])
        XCTAssertEqual(again.status, 0, again.stderr)
        let s = try XCTUnwrap(Self.json(again.stdout), again.stdout)
        XCTAssertEqual(s["skipped"] as? Int, before, "complete videos are not redone")
        XCTAssertEqual(s["extracted"] as? Int, 20 - before)
    }

    /// The processes whose parent is `pid` (mpirun's ranks, started by mpirun itself on one host).
    static func children(of pid: Int32) -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        var out: [Int32] = []
        for e in entries {
            guard let child = Int32(e), let stat = try? String(contentsOfFile: "/proc/\(e)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { continue }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            if fields.count > 2, Int32(fields[1]) == pid { out.append(child) }
        }
        return out.sorted()
    }
}
