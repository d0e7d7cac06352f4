import Data
import Engine
import Flow
import Foundation
import XCTest

/// Flow clips through the loader: extracted from the synthetic set, read back as 2-channel
/// input in [-1, 1] with the RGB samplers and crops, and flips that negate x. (That the flow
/// points the right way is FlowTests' job, on pairs with known motion.)
final class FlowLoaderTests: XCTestCase {
    var dir = ""
    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "vipbench-flowdata-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    func makeDataset() throws -> (VideoDataset, String) {
        var o = SyntheticDataset.Options()
        o.seed = 3; o.classes = 4; o.perClass = (2, 0, 0); o.width = 64; o.height = 48
        try SyntheticDataset.generate(into: dir + "/data", options: o)
        let ds = try VideoDataset.challenge(root: dir + "/data")
        let flowRoot = dir + "/flow"
        let extractor = FlowExtractor(parameters: .opencvCPU, preset: "opencv-cpu", jobs: 2)
        let outcomes = extractor.run(ds.items.map { .init(id: $0.id, source: $0.path, output: "\(flowRoot)/\($0.split)/\($0.id)") })
        for o in outcomes { if case .failed(let why) = o { XCTFail(why) } }
        return (ds, flowRoot)
    }

    func testFlowClipsFollowTheSamplersAndFlipNegatesX() throws {
        let (ds, root) = try makeDataset()
        let clip = ClipSpec(frames: 8, skip: 2)
        let test = ClipSampler(clip: clip, shortSide: 48, mode: .test(crops: 1, clips: 2, rule: .slowfastOffset, cropRule: .slowfast, size: 48),
                               modality: .flow(root: root))
        XCTAssertEqual(test.viewShape, [2, 8, 48, 48])
        for item in ds.items {
            var g = SeededGenerator(seed: 1)
            let v = try test.sample(item, cache: nil, generator: &g)
            XCTAssertEqual(v.count, 2 * 2 * 8 * 48 * 48)
            XCTAssertTrue(v.allSatisfy { $0 >= -1 && $0 <= 1 })
            // Each view holds the flow frames the temporal rule picks (over the flow's n - 1
            // frames), cropped as RGB would be: compare with the file read directly.
            let (record, frames) = try FlowVideo.read(base: "\(root)/\(item.split)/\(item.id)")
            XCTAssertEqual(record.flowFrames, record.sourceFrames - 1)
            let starts = TestSamplingRule.slowfastOffset.starts(frameCount: frames.count, clip: clip, clips: 2)
            let x0 = TestCrop.origin(index: 0, of: 1, size: 48, width: record.width, height: record.height, rule: .slowfast).x
            let plane = 8 * 48 * 48
            for (view, start) in starts.enumerated() {
                let idx = clip.indices(start: start, frameCount: frames.count, policy: .loop)
                for (t, f) in idx.enumerated() { for y in [0, 17, 47] { for x in [0, 20, 47] {
                    let q = (x: frames[f].x[y * record.width + x0 + x], y: frames[f].y[y * record.width + x0 + x])
                    let base = view * 2 * plane + (t * 48 + y) * 48 + x
                    XCTAssertEqual(v[base], FlowQuantisation.unit(q.x))
                    XCTAssertEqual(v[base + plane], FlowQuantisation.unit(q.y))
                } } }
            }
        }
        // Training clips: the same draw with and without a flip.
        func train(_ flip: Double) -> ClipSampler {
            ClipSampler(clip: clip, shortSide: 48, mode: .train(AugmentationConfig(outputSize: 32, crop: .centre, flipProbability: flip)),
                        modality: .flow(root: root))
        }
        var g1 = SeededGenerator(seed: 9), g2 = SeededGenerator(seed: 9)
        let plain = try train(0).sample(ds.items[0], cache: nil, generator: &g1)
        let flipped = try train(1).sample(ds.items[0], cache: nil, generator: &g2)
        let (t, s) = (8, 32)
        var checked = 0
        for c in 0..<2 { for f in 0..<t { for y in 0..<s { for x in 0..<s {
            let a = plain[((c * t + f) * s + y) * s + x], b = flipped[((c * t + f) * s + y) * s + (s - 1 - x)]
            XCTAssertEqual(b, c == 0 ? -a : a, accuracy: 1e-6)
            checked += 1
        } } } }
        XCTAssertEqual(checked, 2 * t * s * s)
        XCTAssertGreaterThan(plain.map(abs).max()!, 0.01, "non-zero flow")
    }

    func testMissingFlowIsAClearError() throws {
        var o = SyntheticDataset.Options()
        o.seed = 3; o.classes = 2; o.perClass = (1, 0, 0); o.width = 64; o.height = 48
        try SyntheticDataset.generate(into: dir + "/data", options: o)
        let ds = try VideoDataset.challenge(root: dir + "/data")
        let sampler = ClipSampler(clip: ClipSpec(frames: 4, skip: 1), shortSide: 48,
                                  mode: .test(crops: 1, clips: 1, rule: .slowfastOffset, cropRule: .slowfast, size: 48),
                                  modality: .flow(root: dir + "/noflow"))
        var g = SeededGenerator(seed: 0)
        XCTAssertThrowsError(try sampler.sample(ds.items[0], cache: nil, generator: &g)) {
            XCTAssertTrue("\($0)".contains(ds.items[0].id) && "\($0)".contains("no flow record"), "\($0)")
        }
    }
}
