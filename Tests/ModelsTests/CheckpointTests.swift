import Engine
import Foundation
import Models
import Safetensors
import XCTest

final class CheckpointTests: XCTestCase {
    func testSaveLoadRoundTripAndStrictErrors() throws {
        let dir = NSTemporaryDirectory() + "vipbench-ckpt-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var g = SeededGenerator(seed: 1), h = SeededGenerator(seed: 2)
        let a = VideoResNet(classes: 7, width: 0.125, generator: &g)
        let b = VideoResNet(classes: 7, width: 0.125, generator: &h)
        a.train()
        _ = a(Tensor(randomNormal: [2, 3, 4, 16, 16], generator: &g))  // moves running statistics
        let path = dir + "/a.safetensors"
        try Checkpoint.save(a, to: path)
        let file = try SafetensorsFile(contentsOf: path)
        XCTAssertEqual(file.tensors["stem.1.num_batches_tracked"]?.dtype, .i64)
        XCTAssertEqual(file.tensors["stem.1.num_batches_tracked"]?.shape, [])
        XCTAssertEqual(file.tensors["fc.weight"]?.shape, [7, 64])
        try Checkpoint.load(b, from: path)
        for ((n1, t1), (_, t2)) in zip(a.stateDict(), b.stateDict()) { XCTAssertEqual(t1.data, t2.data, n1) }
        a.eval(); b.eval()
        let x = Tensor(randomNormal: [1, 3, 4, 16, 16], generator: &g)
        XCTAssertEqual(Autograd.withoutGradients { a(x) }.data, Autograd.withoutGradients { b(x) }.data)

        let other = VideoResNet(classes: 9, width: 0.125, generator: &g)
        XCTAssertThrowsError(try Checkpoint.load(other, from: path)) {
            XCTAssertTrue("\($0)".contains("tensor 'fc.weight' has shape [7, 64], the model needs [9, 64]"), "\($0)")
        }
        let bottleneck = VideoResNet(classes: 7, block: .bottleneck, blocks: [1, 1, 1, 1], width: 0.125, generator: &g)
        XCTAssertThrowsError(try Checkpoint.load(bottleneck, from: path)) {
            XCTAssertTrue("\($0)".contains("missing") && "\($0)".contains(path), "\($0)")
        }
    }

    func testNPYRoundTrip() throws {
        let path = NSTemporaryDirectory() + "x-\(UUID().uuidString).npy"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let values = (0..<24).map { Float($0) * 0.5 - 3 }
        try NPY.write(path, shape: [2, 3, 4], values: values)
        let (shape, read) = try NPY.read(path)
        XCTAssertEqual(shape, [2, 3, 4])
        XCTAssertEqual(read, values)
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        XCTAssertEqual((10 + Int(bytes[8]) | Int(bytes[9]) << 8) % 64, 0, "header padded to 64 bytes")
    }
}
