import Data
import Engine
import XCTest

/// RandAugment's operations against hand computations; one draw per clip.
final class RandAugmentTests: XCTestCase {
    func clip() -> ClipPixels {
        var g = SeededGenerator(seed: 4)
        return ClipPixels(frames: 2, height: 9, width: 11, channels: 3, data: (0..<(2 * 9 * 11 * 3)).map { _ in Float(g.uniform()) })
    }

    func testPixelOperationsByHand() {
        let c = clip()
        let inv = RandAugmentStep(op: .invert, value: 0).apply(c)
        XCTAssertEqual(inv.data[5], 1 - c.data[5], accuracy: 1e-7)
        let post = RandAugmentStep(op: .posterize, value: 2).apply(c)   // keep 2 bits: levels 0, 64, 128, 192
        XCTAssert(post.data.allSatisfy { [0, 64, 128, 192].contains(Int(($0 * 255).rounded())) })
        let sol = RandAugmentStep(op: .solarize, value: 128).apply(c)
        for (a, b) in zip(c.data, sol.data) { XCTAssertEqual(b, (a * 255).rounded() >= 128 ? 1 - a : a, accuracy: 1e-6) }
        let bright = RandAugmentStep(op: .brightness, value: 1.5).apply(c)
        for (a, b) in zip(c.data, bright.data) { XCTAssertEqual(b, min(1, a * 1.5), accuracy: 1e-6) }
        // Every frame gets the same operation: a clip of two equal frames stays two equal frames.
        var twin = c
        let plane = 9 * 11 * 3
        twin.data.replaceSubrange(plane..<(2 * plane), with: c.data[0..<plane])
        for op in RandAugmentOp.allCases {
            let r = RandAugmentStep(op: op, value: op == .posterize ? 3 : op == .solarize ? 100 : 0.2).apply(twin)
            XCTAssertEqual(Array(r.data[0..<plane]), Array(r.data[plane..<(2 * plane)]), "\(op)")
        }
    }

    func testGeometryMovesContent() {
        var c = ClipPixels(frames: 1, height: 9, width: 9, channels: 3, data: [Float](repeating: 0, count: 243))
        for k in 0..<3 { c.data[(4 * 9 + 4) * 3 + k] = 1 }            // a bright centre pixel
        let moved = RandAugmentStep(op: .translateX, value: 2.0 / 9).apply(c)   // 2 px right
        XCTAssertEqual(moved.data[(4 * 9 + 6) * 3], 1, accuracy: 1e-5)
        XCTAssertEqual(moved.data[0], 0.45, accuracy: 1e-6, "uncovered pixels take the fill")
        let turned = RandAugmentStep(op: .rotate, value: 90).apply(c)
        XCTAssertEqual(turned.data[(4 * 9 + 4) * 3], 1, accuracy: 1e-5, "the centre stays")
    }

    func testDrawIsSeededAndRespectsProbability() {
        var g1 = SeededGenerator(seed: 1), g2 = SeededGenerator(seed: 1)
        let a = RandAugmentStep.draw(RandAugmentConfig(), generator: &g1), b = RandAugmentStep.draw(RandAugmentConfig(), generator: &g2)
        XCTAssertEqual(a, b)
        var g = SeededGenerator(seed: 2)
        let counts = (0..<400).map { _ in RandAugmentStep.draw(RandAugmentConfig(), generator: &g).count }
        XCTAssertEqual(Double(counts.reduce(0, +)) / 400, 2, accuracy: 0.2, "4 ops at probability 0.5")
        var none = SeededGenerator(seed: 3)
        XCTAssert(RandAugmentStep.draw(RandAugmentConfig(probability: 0), generator: &none).isEmpty)
    }
}
