import Data
import Engine
import Flow
import Foundation
import Media
import XCTest

/// The loader decoding only what a clip needs (with a frame index) gives the same batches as
/// decoding whole videos, and the index is built once, kept beside the dataset and rebuilt for a
/// file that changed.
final class FrameIndexTests: XCTestCase {
    var dir = ""
    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "vipbench-frameindex-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    func dataset() throws -> VideoDataset {
        var o = SyntheticDataset.Options()
        o.seed = 4; o.classes = 3; o.perClass = (2, 1, 0); o.width = 64; o.height = 48
        try SyntheticDataset.generate(into: dir + "/data", options: o)
        return try VideoDataset.challenge(root: dir + "/data")
    }

    func samplers(_ modality: Modality, shortSide: Int) -> [ClipSampler] {
        let aug = AugmentationConfig(outputSize: 24, crop: .randomSquare(low: 0.6, high: 1), flipProbability: 0.5)
        var train = ClipSampler(clip: ClipSpec(frames: 6, skip: 3), shortSide: shortSide, mode: .train(aug), modality: modality)
        train.augmentedCopies = 2
        return [train,
                ClipSampler(clip: ClipSpec(frames: 8, skip: 2), shortSide: shortSide, mode: .tclr(aug, localClips: 2), modality: modality),
                ClipSampler(clip: ClipSpec(frames: 8, skip: 2), shortSide: shortSide,
                            mode: .test(crops: 3, clips: 5, rule: .slowfastUniform, cropRule: .slowfast, size: 32), modality: modality)]
    }

    func testPartialDecodingGivesTheWholeVideosBatches() throws {
        let ds = try dataset()
        let index = FrameIndex(root: ds.root)
        for sampler in samplers(.rgb, shortSide: 40) {
            for item in ds.items {
                for seed in [0, 1, 2] as [UInt64] {
                    var g1 = SeededGenerator(seed: seed), g2 = SeededGenerator(seed: seed)
                    let whole = try sampler.sample(item, cache: nil, generator: &g1)
                    let partial = try sampler.sample(item, cache: nil, index: index, generator: &g2)
                    XCTAssertTrue(whole == partial, "\(item.id) \(sampler.mode) seed \(seed)")
                }
            }
        }
        XCTAssertEqual(index.built, ds.items.count, "each video scanned once")
        // Through the loader: a full cache switches to partial decoding; the batches do not change.
        let sampler = samplers(.rgb, shortSide: 40)[0]
        func batches(cacheBytes: Int, index: FrameIndex?) -> (data: [[Float]], cacheFull: Bool?) {
            let loader = ClipLoader(items: ds.items, sampler: sampler, batchSize: 2, seed: 9, shuffle: true, cacheBytes: cacheBytes, frameIndex: index)
            return ((0..<2).flatMap { e in loader.batches(epoch: e).map(\.data) }, loader.cache?.isFull)
        }
        let reference = batches(cacheBytes: 64 << 20, index: nil)
        XCTAssertEqual(reference.cacheFull, false)
        XCTAssertEqual(batches(cacheBytes: 0, index: index).data, reference.data)
        let small = batches(cacheBytes: 50_000, index: index)
        XCTAssertEqual(small.cacheFull, true, "the set outgrows the cache, so later clips decode partially")
        XCTAssertEqual(small.data, reference.data, "a cache too small for the set")
    }

    func testFlowClipsReadOnlyTheirFrames() throws {
        let ds = try dataset()
        let flowRoot = dir + "/flow"
        let extractor = FlowExtractor(parameters: .opencvCPU, preset: "opencv-cpu", jobs: 2)
        for o in extractor.run(ds.items.map { .init(id: $0.id, source: $0.path, output: "\(flowRoot)/\($0.split)/\($0.id)") }) {
            if case .failed(let why) = o { XCTFail(why) }
        }
        let index = FrameIndex(root: flowRoot)
        for sampler in samplers(.flow(root: flowRoot), shortSide: 48) {
            for item in ds.items {
                var g1 = SeededGenerator(seed: 5), g2 = SeededGenerator(seed: 5)
                let whole = try sampler.sample(item, cache: nil, generator: &g1)
                XCTAssertTrue(whole == (try sampler.sample(item, cache: nil, index: index, generator: &g2)), "\(item.id) \(sampler.mode)")
            }
        }
        XCTAssertEqual(index.built, ds.items.count)
        let base = "\(flowRoot)/\(ds.items[0].split)/\(ds.items[0].id)"
        let entry = try index.entry(for: FlowVideo.videoPath(base))
        XCTAssertEqual(entry.table.count, try FlowVideo.record(base: base).flowFrames)
    }

    func testTheIndexIsKeptBesideTheDatasetAndRebuiltForAChangedFile() throws {
        let ds = try dataset()
        let index = FrameIndex(root: ds.root)
        for item in ds.items { _ = try index.entry(for: item.path) }
        XCTAssertEqual(index.built, ds.items.count)
        try index.save()
        XCTAssertTrue(FileManager.default.fileExists(atPath: ds.root + "/.vipbench/frame-index.json"))
        XCTAssertEqual(index.unsavedEntries, 0)

        let reopened = FrameIndex(root: ds.root)
        XCTAssertEqual(reopened.count, ds.items.count)
        let first = try reopened.entry(for: ds.items[0].path)
        XCTAssertEqual(reopened.built, 0, "nothing decoded again")
        XCTAssertEqual(first.table.count, try VideoReader(path: ds.items[0].path).countFrames().count)

        // Another video under the same name: the entry follows the file, not the name.
        let other = ds.items[1].path
        try FileManager.default.removeItem(atPath: ds.items[0].path)
        try FileManager.default.copyItem(atPath: other, toPath: ds.items[0].path)
        let changed = try reopened.entry(for: ds.items[0].path)
        XCTAssertEqual(reopened.built, 1)
        XCTAssertEqual(changed.table, try reopened.entry(for: other).table)

        // A damaged index file is ignored, not trusted; a missing video names its file.
        try Data("{not json".utf8).write(to: URL(fileURLWithPath: ds.root + "/.vipbench/frame-index.json"))
        XCTAssertEqual(FrameIndex(root: ds.root).count, 0)
        XCTAssertThrowsError(try reopened.entry(for: ds.root + "/train/nope.mp4")) { XCTAssertTrue("\($0)".contains("nope.mp4")) }
        // A dataset folder that cannot be written: the index goes to the cache, and is found there.
        let cache = dir + "/cache"
        let readOnly = FrameIndex(root: ds.root, file: "/proc/vipbench/frame-index.json", fallbackDirectory: cache)
        _ = try readOnly.entry(for: ds.items[2].path)
        try readOnly.save()
        XCTAssertEqual(readOnly.location, readOnly.fallbackFile)
        XCTAssertTrue(readOnly.fallbackFile.hasPrefix(cache + "/"))
        let again = FrameIndex(root: ds.root, file: "/proc/vipbench/frame-index.json", fallbackDirectory: cache)
        XCTAssertEqual(again.count, 1)
        XCTAssertEqual(again.location, again.fallbackFile)
        _ = try again.entry(for: ds.items[2].path)
        XCTAssertEqual(again.built, 0)
        // Neither place writable: save says where and why.
        let nowhere = FrameIndex(root: ds.root, file: "/proc/vipbench/frame-index.json", fallbackDirectory: "/proc/vipbench-cache")
        _ = try nowhere.entry(for: ds.items[2].path)
        XCTAssertThrowsError(try nowhere.save()) {
            XCTAssertTrue("\($0)".contains("/proc/vipbench/frame-index.json") && "\($0)".contains("/proc/vipbench-cache"), "\($0)")
        }
    }
}
