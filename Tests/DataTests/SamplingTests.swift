import Data
import Engine
import XCTest

/// Sampling and crop rules against hand-computed positions (protocols.md).
final class SamplingTests: XCTestCase {
    let clip = ClipSpec(frames: 16, skip: 2)  // span 31

    func testTestClipStartsForEveryRule() {
        XCTAssertEqual(clip.span, 31)
        // N = 100: delta = 69.
        XCTAssertEqual(TestSamplingRule.slowfastOffset.starts(frameCount: 100, clip: clip, clips: 10), (0..<10).map { $0 * 7 })
        XCTAssertEqual(TestSamplingRule.slowfastOffset.starts(frameCount: 100, clip: clip, clips: 1), [34])
        XCTAssertEqual(TestSamplingRule.slowfastUniform.starts(frameCount: 100, clip: clip, clips: 10), [0, 6, 13, 20, 27, 34, 41, 48, 55, 62])
        XCTAssertEqual(TestSamplingRule.mmaction.starts(frameCount: 100, clip: clip, clips: 10), [0, 8, 15, 23, 31, 38, 46, 54, 61, 69])
        XCTAssertEqual(TestSamplingRule.tclr.starts(frameCount: 100, clip: clip, clips: 10), [0, 6, 12, 19, 25, 32, 38, 45, 51, 58])
        // Python's round: half to even (i * 5 / 2 = 2.5 -> 2).
        XCTAssertEqual(TestSamplingRule.mmaction.starts(frameCount: 36, clip: clip, clips: 3), [0, 2, 5])
        // A video shorter than the clip: every clip starts at 0.
        XCTAssertEqual(TestSamplingRule.slowfastOffset.starts(frameCount: 20, clip: clip, clips: 3), [0, 0, 0])
        XCTAssertEqual(TestSamplingRule.tclr.starts(frameCount: 30, clip: clip, clips: 3), [0, 0, 0])
    }

    func testOverflowPolicies() {
        XCTAssertEqual((5..<10).map { OverflowPolicy.loop.index($0, frameCount: 5) }, [0, 1, 2, 3, 4])
        XCTAssertEqual((5..<10).map { OverflowPolicy.repeatLast.index($0, frameCount: 5) }, [4, 4, 4, 4, 4])
        XCTAssertEqual((5..<10).map { OverflowPolicy.mirror.index($0, frameCount: 5) }, [3, 2, 1, 0, 1])
        XCTAssertEqual(clip.indices(start: 0, frameCount: 20, policy: .loop).suffix(6), [0, 2, 4, 6, 8, 10])
        XCTAssertEqual(ClipSpec("16x4"), ClipSpec(frames: 16, skip: 4))
        XCTAssertNil(ClipSpec("16"))
    }

    func testTrainingStartsCoverTheRangeDeterministically() {
        var g = SeededGenerator(seed: 1)
        let starts = (0..<2000).map { _ in clip.randomStart(frameCount: 40, generator: &g) }
        XCTAssertEqual(Set(starts), Set(0...9))
        var h = SeededGenerator(seed: 1)
        XCTAssertEqual((0..<2000).map { _ in clip.randomStart(frameCount: 40, generator: &h) }, starts)
    }

    func testThreeCropsAndCentreCrop() {
        // 171 x 128 at 128: SlowFast's centre offset rounds up, mmaction2's down.
        let o = (0..<3).map { TestCrop.origin(index: $0, of: 3, size: 128, width: 171, height: 128, rule: .slowfast).x }
        XCTAssertEqual(o, [0, 22, 43])
        XCTAssertEqual(TestCrop.origin(index: 1, of: 3, size: 128, width: 171, height: 128, rule: .mmaction).x, 21)
        // A portrait frame crops along its height.
        let p = (0..<3).map { TestCrop.origin(index: $0, of: 3, size: 100, width: 100, height: 151, rule: .slowfast) }
        XCTAssertEqual(p.map(\.y), [0, 26, 51]); XCTAssertEqual(p.map(\.x), [0, 0, 0])
        let c = TestCrop.origin(index: 0, of: 1, size: 112, width: 149, height: 112, rule: .slowfast)
        XCTAssertEqual([c.x, c.y], [19, 0])
    }
}

final class TransformTests: XCTestCase {
    func ramp(frames: Int = 2, width: Int = 6, height: Int = 4, channels: Int = 3) -> ClipPixels {
        ClipPixels(frames: frames, height: height, width: width, channels: channels,
                   data: (0..<(frames * height * width * channels)).map { (i: Int) -> Float in Float(i % 97) / 97 })
    }

    func testCropResizeFlipAndLayout() {
        let c = ramp()
        let crop = c.cropped(x: 1, y: 2, width: 3, height: 2)
        XCTAssertEqual(crop.data[0], c.data[((0 * 4 + 2) * 6 + 1) * 3])
        XCTAssertEqual(c.resized(width: 6, height: 4), c)
        // Bilinear halving of a linear ramp keeps it linear: values at half-pixel centres.
        let line = ClipPixels(frames: 1, height: 1, width: 4, channels: 1, data: [0, 1, 2, 3])
        XCTAssertEqual(line.resized(width: 2, height: 1).data, [0.5, 2.5])
        let flow = ClipPixels(frames: 1, height: 1, width: 2, channels: 2, data: [0.1, 0.2, 0.3, 0.4])
        XCTAssertEqual(flow.flippedHorizontally(negating: 0).data, [-0.3, 0.4, -0.1, 0.2])
        let layout = ramp(frames: 1, width: 2, height: 1).tensorLayout(.symmetric)
        XCTAssertEqual(layout.count, 6)
        XCTAssertEqual(layout[1], ramp(frames: 1, width: 2, height: 1).data[3] * 2 - 1, accuracy: 1e-6)  // channel 0, pixel 1
    }

    func testAugmentationIsDrawnOncePerClipAndReproducible() {
        let config = AugmentationConfig.tclr(size: 32)
        var a = SeededGenerator(seed: 9), b = SeededGenerator(seed: 9), c = SeededGenerator(seed: 10)
        let pa = Augmentation.draw(config, width: 57, height: 43, generator: &a)
        XCTAssertEqual(pa, Augmentation.draw(config, width: 57, height: 43, generator: &b))
        var differs = false
        for _ in 0..<5 where Augmentation.draw(config, width: 57, height: 43, generator: &c) != pa { differs = true }
        XCTAssertTrue(differs)
        // TCLR's square crop is 60-100 % of the short side and inside the frame.
        var g = SeededGenerator(seed: 3)
        for _ in 0..<200 {
            let p = Augmentation.draw(config, width: 57, height: 43, generator: &g)
            XCTAssertEqual(p.crop.width, p.crop.height)
            XCTAssertTrue((25...43).contains(p.crop.width), "\(p.crop)")
            XCTAssertTrue(p.crop.x + p.crop.width <= 57 && p.crop.y + p.crop.height <= 43)
        }
        // The same parameters on every frame: a clip of identical frames stays identical.
        let frame: [Float] = (0..<(57 * 43 * 3)).map { (i: Int) -> Float in Float((i * 7) % 255) / 255 }
        let clip = ClipPixels(frames: 3, height: 43, width: 57, channels: 3, data: frame + frame + frame)
        let out = pa.apply(clip, config: config)
        let n = 32 * 32 * 3
        XCTAssertEqual(Array(out.data[0..<n]), Array(out.data[n..<(2 * n)]))
        XCTAssertEqual(Array(out.data[n..<(2 * n)]), Array(out.data[(2 * n)...]))
        XCTAssertTrue(out.data.allSatisfy { $0 >= 0 && $0 <= 1 })
    }

    func testRandomResizedCropStaysInBounds() {
        let config = AugmentationConfig.supervised(size: 16)
        var g = SeededGenerator(seed: 4)
        for _ in 0..<300 {
            let p = Augmentation.draw(config, width: 40, height: 30, generator: &g)
            XCTAssertTrue(p.crop.x >= 0 && p.crop.y >= 0 && p.crop.x + p.crop.width <= 40 && p.crop.y + p.crop.height <= 30)
        }
    }
}
