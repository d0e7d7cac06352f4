import Data
import Engine
import Foundation
import Media
import TestSupport
import XCTest

final class DatasetTests: XCTestCase {
    var dir: String!
    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "vipbench-data-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    func tinyOptions(seed: UInt64) -> SyntheticDataset.Options {
        var o = SyntheticDataset.Options()
        o.seed = seed; o.classes = 4; o.perClass = (2, 1, 1); o.width = 64; o.height = 48
        return o
    }

    func testSyntheticSetIsDeterministicAndInTheChallengesLayout() throws {
        let a = dir + "/a", b = dir + "/b", c = dir + "/c"
        try SyntheticDataset.generate(into: a, options: tinyOptions(seed: 5))
        try SyntheticDataset.generate(into: b, options: tinyOptions(seed: 5))
        try SyntheticDataset.generate(into: c, options: tinyOptions(seed: 6))
        let ds = try VideoDataset.challenge(root: a)
        XCTAssertEqual(ds.classes, ["moving left", "moving right", "moving up", "moving down"])
        XCTAssertEqual(ds.items(split: "train").count, 8)
        XCTAssertEqual(ds.items(split: "val").count, 4)
        XCTAssertEqual(ds.items(split: "test").count, 4)
        XCTAssertTrue(ds.items.allSatisfy { $0.label != nil && $0.id.count == 10 && $0.id.first!.isLetter })
        // The manifest says what the folder was rendered from (the runner re-renders a stale one).
        XCTAssertEqual(SyntheticDataset.Manifest.read(from: a), SyntheticDataset.Manifest(tinyOptions(seed: 5)))
        XCTAssertNotEqual(SyntheticDataset.Manifest.read(from: c), SyntheticDataset.Manifest(tinyOptions(seed: 5)))
        XCTAssertNil(SyntheticDataset.Manifest.read(from: dir + "/none"))
        let test = try String(contentsOfFile: a + "/annotations/motion-test-public.csv", encoding: .utf8)
        XCTAssertTrue(test.hasPrefix("videoid,split\n"), "the public test CSV has no labels")
        for f in ["clsIdx.csv", "motion-train.csv", "motion-val.csv", "motion-test-public.csv", "motion-test-labels.csv"] {
            XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: "\(a)/annotations/\(f)")),
                           try Data(contentsOf: URL(fileURLWithPath: "\(b)/annotations/\(f)")), f)
        }
        for item in ds.items {
            let other = b + item.path.dropFirst(a.count)
            XCTAssertEqual(try SHA256Digest.file(item.path), try SHA256Digest.file(other), "\(item.id): files differ")
            let fa = try VideoReader(path: item.path).readAll().frames
            let fb = try VideoReader(path: other).readAll().frames
            XCTAssertEqual(fa.count, fb.count, item.id)
            XCTAssertTrue(zip(fa, fb).allSatisfy { $0.pixels == $1.pixels }, "\(item.id): decoded frames differ")
            XCTAssertTrue((40...56).contains(fa.count))
        }
        XCTAssertNotEqual(try Data(contentsOf: URL(fileURLWithPath: "\(a)/annotations/motion-train.csv")),
                          try Data(contentsOf: URL(fileURLWithPath: "\(c)/annotations/motion-train.csv")))
    }

    /// A video played backwards is a valid video of the partner class, and every class's motion is
    /// what its name says.
    func testTimeReversalGivesThePartnerClass() {
        var g = SeededGenerator(seed: 11)
        for label in 0..<10 {
            for _ in 0..<20 {
                let s = SyntheticMotion.script(label: label, generator: &g)
                let states = (0..<s.frames).map { s.state(at: $0) }
                XCTAssertEqual(SyntheticMotion.classify(states, width: s.width, height: s.height), label)
                XCTAssertEqual(SyntheticMotion.classify(states.reversed(), width: s.width, height: s.height),
                               SyntheticMotion.partner(label))
            }
        }
        // Reversing the frames of a class-c script equals rendering the script with the velocity
        // negated (the partner's definition), frame for frame, for the actor's state.
        let s = SyntheticMotion.script(label: 6, generator: &g)
        var reversed = s
        reversed.velocity = SyntheticMotion.ActorState(x: -s.velocity.x, y: -s.velocity.y, angle: -s.velocity.angle,
                                                       scale: -s.velocity.scale, alpha: -s.velocity.alpha)
        for t in 0..<s.frames { XCTAssertEqual(reversed.state(at: t), s.state(at: s.frames - 1 - t)) }
    }

    /// One frame carries no class information: partners draw their actor states from the same
    /// distribution (checked on the mean and spread of x over many videos of "moving left/right").
    func testSingleFramesLookAlikeAcrossPartners() {
        var g = SeededGenerator(seed: 12)
        func stats(_ label: Int) -> (Double, Double) {
            var xs: [Double] = []
            for _ in 0..<2000 {
                let s = SyntheticMotion.script(label: label, generator: &g)
                xs.append(Double(s.state(at: g.int(below: s.frames)).x))
            }
            let m = xs.reduce(0, +) / Double(xs.count)
            return (m, (xs.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(xs.count)).squareRoot())
        }
        let (ml, sl) = stats(0), (mr, sr) = stats(1)
        // Means within 4 standard errors, spreads within 10 %.
        let se = (sl * sl / 2000 + sr * sr / 2000).squareRoot()
        XCTAssertEqual(ml, mr, accuracy: 4 * se)
        XCTAssertEqual(sl, sr, accuracy: 0.1 * sl)
    }

    func testRealChallengeAnnotationsWithMissingAndCorruptVideos() throws {
        let fixtures = try requireFixture(URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/kinetics400vipriors").path)
        try FileManager.default.createDirectory(atPath: dir + "/annotations", withIntermediateDirectories: true)
        for f in try FileManager.default.contentsOfDirectory(atPath: fixtures) where !f.hasSuffix(".md") {
            try FileManager.default.createSymbolicLink(atPath: "\(dir!)/annotations/\(f)", withDestinationPath: "\(fixtures)/\(f)")
        }
        let ds = try VideoDataset.challenge(root: dir)
        XCTAssertEqual(ds.classes.count, 400)
        XCTAssertEqual(ds.items(split: "train").count, 40_000)
        XCTAssertEqual(ds.items(split: "val").count, 10_000)
        XCTAssertEqual(ds.items(split: "test").count, 20_000)
        // 322 line breaks, 323 ids (the last line has no line break).
        XCTAssertEqual(ds.knownCorrupt.count, 323)
        XCTAssertTrue(ds.knownCorrupt.contains("grUjqtShiP"))
        XCTAssertTrue(ds.items(split: "test").allSatisfy { $0.label == nil })
        XCTAssertTrue(ds.items.contains { ds.classes[$0.label ?? 0].contains("(") }, "class names with parentheses")
        // No videos are here: every one is reported (missing or on the corrupt list), nothing crashes.
        let small = VideoDataset(root: ds.root, classes: ds.classes, items: Array(ds.items.prefix(500)) + ds.items.filter { ds.knownCorrupt.contains($0.id) }.prefix(3), knownCorrupt: ds.knownCorrupt)
        let report = DatasetCheck.run(small)
        XCTAssertEqual(report.problems.count, small.items.count)
        XCTAssertEqual(report.problems.filter { $0.kind == "listed-corrupt" }.count, small.items.filter { ds.knownCorrupt.contains($0.id) }.count)
        XCTAssertTrue(report.problems.contains { $0.kind == "missing" && $0.reason == "file not found" })
    }

    /// A public test list and a separate label list (not named `*-test-labels.csv`) list the same
    /// videos: each counts once and takes its label; a conflicting label names both files.
    func testAVideoListedByTwoFilesCountsOnce() throws {
        let ann = dir + "/annotations"
        try FileManager.default.createDirectory(atPath: ann, withIntermediateDirectories: true)
        try "label,idx\nrun,1\njump,2\n".write(toFile: ann + "/clsIdx.csv", atomically: true, encoding: .utf8)
        try "videoid,split\na,test\nb,test\n".write(toFile: ann + "/k-test-public.csv", atomically: true, encoding: .utf8)
        try "label,videoid,split\njump,a,test\nrun,b,test\n".write(toFile: ann + "/k-test_labels.csv", atomically: true, encoding: .utf8)
        try "label,videoid,split\nrun,c,train\n".write(toFile: ann + "/k-train.csv", atomically: true, encoding: .utf8)
        let ds = try VideoDataset.challenge(root: dir)
        XCTAssertEqual(ds.items(split: "test").map(\.id), ["a", "b"])
        XCTAssertEqual(ds.items(split: "test").map(\.label), [1, 0])
        XCTAssertEqual(DatasetCheck.run(ds).counts["test"], ["jump": 1, "run": 1])
        try "label,videoid,split\nrun,a,test\n".write(toFile: ann + "/k-test_zlabels.csv", atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try VideoDataset.challenge(root: dir)) {
            XCTAssertEqual("\($0)", "\(ann)/k-test_zlabels.csv:2: video 'a' is labelled 'run' here and 'jump' in k-test_labels.csv")
        }
    }

    func testOtherLayouts() throws {
        // Kinetics CSV.
        try "label,youtube_id,time_start,time_end,split\nabseiling,abc,5,15,train\n\"passing (game)\",xyz,0,10,val\n"
            .write(toFile: dir + "/k.csv", atomically: true, encoding: .utf8)
        let k = try VideoDataset.kinetics(csv: dir + "/k.csv", root: dir)
        XCTAssertEqual(k.items.map(\.id), ["abc_000005_000015", "xyz_000000_000010"])
        XCTAssertEqual(k.items[1].path, dir + "/val/xyz_000000_000010.mp4")
        XCTAssertEqual(k.classes, ["abseiling", "passing (game)"])
        // UCF101 lists.
        try "1 ApplyEyeMakeup\n2 Archery\n".write(toFile: dir + "/classInd.txt", atomically: true, encoding: .utf8)
        try "ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1\nArchery/v_Archery_g01_c01.avi 2\n".write(toFile: dir + "/trainlist01.txt", atomically: true, encoding: .utf8)
        try "Archery/v_Archery_g02_c01.avi\n".write(toFile: dir + "/testlist01.txt", atomically: true, encoding: .utf8)
        let u = try VideoDataset.ucf101(listsDirectory: dir, videos: "/videos")
        XCTAssertEqual(u.items.map(\.label), [0, 1, 1])
        XCTAssertEqual(u.items.map(\.split), ["train", "train", "test"])
        XCTAssertEqual(u.items[2].path, "/videos/Archery/v_Archery_g02_c01.avi")
        try "ApplyEyeMakeup/x.avi\nBoxing/y.avi\n".write(toFile: dir + "/testlist01.txt", atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try VideoDataset.ucf101(listsDirectory: dir, videos: "/v")) {
            XCTAssertEqual("\($0)", "\(self.dir!)/testlist01.txt:2: class folder 'Boxing' is not in classInd.txt")
        }
        // path,label.
        try "path,label\nclips/a.mp4,jump\n/abs/b.mp4,run\n".write(toFile: dir + "/p.csv", atomically: true, encoding: .utf8)
        let p = try VideoDataset.pathLabel(csv: dir + "/p.csv")
        XCTAssertEqual(p.items.map(\.path), [dir + "/clips/a.mp4", "/abs/b.mp4"])
        XCTAssertThrowsError(try VideoDataset.pathLabel(csv: dir + "/k.csv")) { XCTAssertTrue("\($0)".contains("missing column 'path'")) }
    }

    func testLoaderIsDeterministicWhateverTheWorkersAndCachesFrames() throws {
        try SyntheticDataset.generate(into: dir + "/s", options: tinyOptions(seed: 1))
        var ds = try VideoDataset.challenge(root: dir + "/s")
        ds.items.append(VideoDataset.Item(id: "gone", path: dir + "/s/train/gone.mp4", label: 0, split: "train"))
        let train = ds.items(split: "train")
        let sampler = ClipSampler(clip: ClipSpec(frames: 8, skip: 2), shortSide: 40, mode: .train(.tclr(size: 32)))
        func run(workers: Int, epochs: Int = 1, cacheBytes: Int = 0) -> ([[Float]], ClipLoader) {
            let loader = ClipLoader(items: train, sampler: sampler, batchSize: 3, workers: workers, seed: 42, shuffle: true, cacheBytes: cacheBytes)
            var out: [[Float]] = []
            for e in 0..<epochs { for b in loader.batches(epoch: e) { out.append(b.data) } }
            return (out, loader)
        }
        let (one, _) = run(workers: 1)
        let (three, _) = run(workers: 3)
        XCTAssertEqual(one, three, "batches must not depend on thread timing")
        XCTAssertEqual(one.count, 3)
        let loader = ClipLoader(items: train, sampler: sampler, batchSize: 3, seed: 42, shuffle: true)
        let batches = Array(loader.batches(epoch: 0))
        XCTAssertEqual(batches.flatMap(\.failures).map(\.id), ["gone"])
        XCTAssertEqual(batches.map(\.indices.count).reduce(0, +), 8)
        XCTAssertEqual(batches[0].shape, [3, 1, 3, 8, 32, 32])
        XCTAssertNotEqual(loader.order(epoch: 0), loader.order(epoch: 1))
        // The cache decodes each video once over two epochs.
        let (_, cached) = run(workers: 2, epochs: 2, cacheBytes: 64 << 20)
        // Epoch 0 decodes the 8 videos and tries the missing one; epoch 1 finds the 8 in the cache.
        XCTAssertEqual(cached.cache?.misses, 10)
        XCTAssertEqual(cached.cache?.hits, 8)
    }

    /// Data-parallel loading: the shards of 2 or 3 processes, batch by batch, put together are the
    /// whole loader's batches (same samples, same augmentation, same order), from any first batch.
    func testShardsOfEveryBatchMakeUpTheWholeBatch() throws {
        try SyntheticDataset.generate(into: dir + "/s", options: tinyOptions(seed: 1))
        let train = try VideoDataset.challenge(root: dir + "/s").items(split: "train")
        XCTAssertEqual(train.count, 8)
        let sampler = ClipSampler(clip: ClipSpec(frames: 4, skip: 2), shortSide: 32, mode: .train(.tclr(size: 24)))
        func batches(_ shard: ClipLoader.Shard, from first: Int = 0) -> [ClipBatch] {
            let loader = ClipLoader(items: train, sampler: sampler, batchSize: 3, workers: 2, seed: 7, shuffle: true, shard: shard)
            return Array(loader.batches(epoch: 1, from: first))
        }
        let whole = batches(.whole)
        XCTAssertEqual(whole.map(\.indices.count), [3, 3, 2])
        for count in [2, 3] {
            let parts = (0..<count).map { batches(ClipLoader.Shard(rank: $0, count: count)) }
            for (b, batch) in whole.enumerated() {
                XCTAssertEqual(parts.flatMap { $0[b].indices }, batch.indices, "batch \(b), \(count) shards")
                XCTAssertEqual(parts.flatMap { $0[b].data }, batch.data, "batch \(b), \(count) shards")
            }
            // A part as `Shard.part` says: rank r of n takes [r x len / n, (r + 1) x len / n).
            XCTAssertEqual(parts[count - 1].map(\.indices.count), count == 2 ? [2, 2, 1] : [1, 1, 1])
        }
        let resumed = batches(ClipLoader.Shard(rank: 1, count: 2), from: 1)
        XCTAssertEqual(resumed.map(\.indices), batches(ClipLoader.Shard(rank: 1, count: 2)).dropFirst().map(\.indices))
    }

    func testTestViewsOfAVideo() throws {
        try SyntheticDataset.generate(into: dir + "/s", options: tinyOptions(seed: 2))
        let item = try VideoDataset.challenge(root: dir + "/s").items(split: "val")[0]
        let sampler = ClipSampler(clip: ClipSpec(frames: 8, skip: 2), shortSide: 32,
                                  mode: .test(crops: 3, clips: 4, rule: .slowfastOffset, cropRule: .slowfast, size: 32))
        var g = SeededGenerator(seed: 0)
        let values = try sampler.sample(item, cache: nil, generator: &g)
        XCTAssertEqual(values.count, 12 * 3 * 8 * 32 * 32)
        XCTAssertEqual(sampler.viewsPerVideo, 12)
    }
}

/// A file's bytes compared cheaply in failure messages.
enum SHA256Digest {
    static func file(_ path: String) throws -> Int {
        var h = Hasher()
        h.combine(try Data(contentsOf: URL(fileURLWithPath: path)))
        return h.finalize()
    }
}
