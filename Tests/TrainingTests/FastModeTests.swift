import Engine
import Foundation
import XCTest
@testable import Training

/// The fast mode (BF16 multiplies in convolutions) is part of a training configuration: its own
/// hash, applied by the loop itself (so `--resume` and the test stage keep it).
final class FastModeTests: XCTestCase {
    func testFastModeIsItsOwnConfigurationAndReallyRuns() throws {
        let exact = TinyMotion.configuration(epochs: 1)
        var fast = exact
        fast.bf16Convolutions = true
        XCTAssertNotEqual(exact.hash, fast.hash)
        let json = String(decoding: try JSONEncoder().encode(exact), as: UTF8.self)
        XCTAssertFalse(json.contains("bf16Convolutions"), "exact configurations keep their hashes")
        XCTAssertEqual(fast.convolutionBackend, .onednnBF16)
        XCTAssertEqual(exact.convolutionBackend, .onednn)
        XCTAssertEqual(ConvolutionBackend.with(.gemm) { exact.convolutionBackend }, .gemm)
        XCTAssertEqual(ConvolutionBackend.with(.onednnBF16) { exact.convolutionBackend }, .onednn,
                       "a configuration without the fast mode trains exactly whatever the process's backend")
        try XCTSkipUnless(ConvolutionBackend.hasBF16, "this CPU has no BF16 convolution kernels")

        let base = NSTemporaryDirectory() + "vipbench-fast-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: base) }
        func trained(_ c: TrainingConfiguration, _ dir: String) throws -> [Float] {
            let (train, val) = try TinyMotion.loaders(c)
            let m = TinyMotion.model(c)
            _ = try Training.train(c, network: .classifier(m), train: train, validation: val, directory: RunDirectory(base + dir),
                                   resume: false, commit: "test") { _ in }
            return m.stateDict().sorted { $0.0 < $1.0 }.flatMap { $0.1.data }
        }
        let a = try trained(exact, "/exact"), b = try trained(fast, "/fast"), again = try trained(fast, "/fast-again")
        XCTAssertEqual(ConvolutionBackend.current, .onednn, "the loop restores the process's backend")
        XCTAssertNotEqual(a, b, "BF16 multiplies change the weights")
        XCTAssertEqual(b, again, "the fast mode is deterministic too")
        XCTAssertTrue(b.allSatisfy(\.isFinite))
    }
}
