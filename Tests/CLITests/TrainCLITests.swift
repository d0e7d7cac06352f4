import Foundation
import Safetensors
import XCTest

/// `vipbench train`, `pretrain tclr` and `test` as a user runs them, on a tiny rendered dataset.
final class TrainCLITests: XCTestCase {
    static let data: String = {
        let dir = NSTemporaryDirectory() + "vipbench-train-cli-\(ProcessInfo.processInfo.processIdentifier)"
        let r = try! CLI.run(["dataset", "synth", "--out", dir, "--classes", "4", "--per-class", "4,2,1"])
        precondition(r.status == 0, r.stderr)
        return dir
    }()

    /// Small enough to train in seconds: 16 training videos, 4 steps an epoch.
    func trainArguments(_ out: String, epochs: Int = 2) -> [String] {
        ["train", "r3d18", "--data", Self.data, "--out", out, "--width", "0.0625", "--clip", "4x2", "--short-side", "24",
         "--crop", "16", "--batch", "4", "--epochs", "\(epochs)", "--flip", "0", "--normalise", "slowfast",
         "--checkpoint-every", "1", "--seed", "3"]
    }

    func modelTensors(_ path: String) throws -> [String: SafetensorsFile.Tensor] {
        try SafetensorsFile(contentsOf: path).tensors.filter { $0.key.hasPrefix("model/") }
    }

    func steps(_ log: String) -> Int {
        guard let text = try? String(contentsOfFile: log, encoding: .utf8) else { return 0 }
        return text.split(separator: "\n").filter { $0.contains("\"kind\":\"step\"") }.count
    }

    /// SIGKILL in the second epoch, then --resume: the weights equal an uninterrupted run's bit for bit.
    func testSigkillAndResumeEndBitIdentical() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let full = try CLI.run(trainArguments(dir + "/full") + ["--json"])
        XCTAssertEqual(full.status, 0, full.stderr)
        let summary = try XCTUnwrap(full.stdout.split(separator: "\n").last.flatMap {
            try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] })
        XCTAssertEqual(summary["steps"] as? Int, 8)
        XCTAssertNotNil(summary["best_top1"] as? Double)

        let (p, _, _) = try CLI.start(trainArguments(dir + "/cut"))
        let deadline = Date().addingTimeInterval(120)
        while steps(dir + "/cut/log.jsonl") < 6 && p.isRunning && Date() < deadline { usleep(20_000) }
        XCTAssertTrue(p.isRunning, "the run finished before it could be killed")
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationReason, .uncaughtSignal)
        let resumed = try CLI.run(trainArguments(dir + "/cut") + ["--resume"])
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertTrue(resumed.stderr.contains("resuming at epoch 2"), resumed.stderr)
        let a = try modelTensors(dir + "/full/latest.safetensors"), b = try modelTensors(dir + "/cut/latest.safetensors")
        XCTAssertEqual(a.count, b.count)
        XCTAssertEqual(a, b, "resumed weights differ from the uninterrupted run's")
        XCTAssertEqual(steps(dir + "/cut/log.jsonl"), 8, "the log holds each step once")

        // A different setting on --resume is refused, naming it.
        let other = try CLI.run(trainArguments(dir + "/cut").map { $0 == "0.0625" ? "0.125" : $0 } + ["--resume"])
        XCTAssertNotEqual(other.status, 0)
        XCTAssertTrue(other.stderr.contains("width: 0.0625 in the checkpoint, 0.125 now"), other.stderr)

        // test: 3x2 views of the validation split, readable by eval.
        let scores = dir + "/val.safetensors"
        let t = try CLI.run(["test", "--checkpoint", dir + "/full/best.safetensors", "--data", Self.data, "--views", "3x2", "--out", scores, "--json"])
        XCTAssertEqual(t.status, 0, t.stderr)
        let file = try SafetensorsFile(contentsOf: scores)
        XCTAssertEqual(file.tensors["logits"]?.shape, [8, 3, 2, 4])
        let e = try CLI.run(["eval", "--scores", scores, "--json"])
        XCTAssertEqual(e.status, 0, e.stderr)
    }

    func testNonFiniteLossStopsWithEpochAndStep() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try CLI.run(trainArguments(dir + "/nan").map { $0 == "--seed" ? "--lr" : $0 == "3" ? "1e30" : $0 })
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("at epoch") && r.stderr.contains("step") && r.stderr.contains("training stopped"), r.stderr)
    }

    func testTCLRPretrainThenFineTune() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let pre = try CLI.run(["pretrain", "tclr", "--data", Self.data, "--out", dir + "/pre", "--width", "0.0625", "--clip", "8x2",
                               "--short-side", "24", "--crop", "16", "--crop-kind", "tclr", "--batch", "4", "--epochs", "1",
                               "--optimizer", "adam", "--lr", "1e-3", "--weight-decay", "1e-9", "--schedule", "constant", "--json"])
        XCTAssertEqual(pre.status, 0, pre.stderr)
        let fine = try CLI.run(["train", "r3d18-tclr", "--data", Self.data, "--out", dir + "/fine", "--width", "0.0625", "--clip", "8x2",
                                "--short-side", "24", "--crop", "16", "--batch", "4", "--epochs", "1", "--flip", "0",
                                "--init-from", dir + "/pre/latest.safetensors"])
        XCTAssertEqual(fine.status, 0, fine.stderr)
        XCTAssertTrue(fine.stderr.contains("start fresh (fc.weight, fc.bias)"), fine.stderr)
        let wrong = try CLI.run(["pretrain", "tclr", "--data", Self.data, "--out", dir + "/bad", "--clip", "8x4"])
        XCTAssertNotEqual(wrong.status, 0)
    }
}
