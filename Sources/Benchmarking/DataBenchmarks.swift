import Data
import Engine
import Foundation
import Harness
import Media
import Plot
import Store

/// Decoding and loading speed, each against a baseline measured in the same run.
public enum DataBenchmarks {
    public struct DecodeLine: Codable, Sendable {
        public var file: String
        public var frames: Int
        public var width: Int, height: Int
        public var vipbenchFPS: Double
        public var ffmpegFPS: Double?
        public var ratio: Double?
    }

    /// Frames per second of decode + RGB conversion at native size, one decoder thread, against
    /// `ffmpeg -threads 1 -filter_threads 1 -i F -map 0:v:0 -f rawvideo -pix_fmt rgb24` to /dev/null
    /// (minus a one-frame run of the same command: its start-up). Medians of `repeats` runs each.
    public static func decode(files: [String], repeats: Int = 3, progress: (DecodeLine) -> Void = { _ in }) throws -> [DecodeLine] {
        let ffmpeg = findExecutable("ffmpeg")
        var lines: [DecodeLine] = []
        for file in files {
            let reader = try VideoReader(path: file)
            var frames = 0
            var times: [Double] = []
            for _ in 0..<repeats {
                frames = 0
                let t0 = Timing.now()
                try reader.decode(threads: 1) { _ in frames += 1; return true }
                times.append(Timing.now() - t0)
            }
            let ours = Double(frames) / Timing.median(times)
            var theirs: Double?
            if let ffmpeg {
                // The command's own start-up (process, probing, first frame) is measured with a
                // one-frame run and subtracted, so only decoding and conversion are compared.
                func run(_ extra: [String]) throws -> Double {
                    var t: [Double] = []
                    for _ in 0..<repeats {
                        let p = Process()
                        p.executableURL = URL(fileURLWithPath: ffmpeg)
                        p.arguments = ["-v", "error", "-threads", "1", "-filter_threads", "1", "-i", file, "-map", "0:v:0"]
                            + extra + ["-fps_mode", "passthrough", "-f", "rawvideo", "-pix_fmt", "rgb24", "-y", "/dev/null"]
                        p.standardOutput = FileHandle.nullDevice
                        p.standardError = FileHandle.nullDevice
                        p.environment = ProcessTuning.untunedEnvironment
                        let t0 = Timing.now()
                        try p.run(); p.waitUntilExit()
                        t.append(Timing.now() - t0)
                    }
                    return Timing.median(t)
                }
                let whole = try run([]), startup = try run(["-frames:v", "1"])
                theirs = Double(max(frames - 1, 1)) / max(whole - startup, 1e-6)
            }
            let line = DecodeLine(file: file, frames: frames, width: reader.info.width, height: reader.info.height,
                                  vipbenchFPS: ours, ffmpegFPS: theirs, ratio: theirs.map { ours / $0 })
            lines.append(line)
            progress(line)
        }
        return lines
    }

    public struct LoaderResult: Codable, Sendable {
        public var clips: Int
        public var workers: Int
        /// Building the frame index of these videos (once per dataset; kept beside it).
        public var indexSeconds: Double
        /// Decoding only what each clip needs (index built, no frame cache): what every epoch pays
        /// when the dataset does not fit the cache.
        public var coldClipsPerSecond: Double
        /// Decoding and converting whole videos (no index, no cache): the loader before the index.
        public var wholeVideoClipsPerSecond: Double
        /// From the frame cache (second epoch of a loader whose cache holds every video).
        public var cachedClipsPerSecond: Double
        /// decord on the same clips (same videos, frame indices and output size), one thread, one
        /// clip after another (opening each video, as a cold loader does); nil when it does not import.
        public var decordClipsPerSecond: Double?
        public var decordNote: String?
        /// (cold clips/s / workers) / decord's clips/s: per core.
        public var perCoreRatioToDecord: Double?
        public var testViews: TestViewsResult
    }

    public struct TestViewsResult: Codable, Sendable {
        public var videos: Int
        /// Decoding the frames of 3x10 views of 16x2 (SlowFast's uniform rule): once per video,
        /// converting only the frames some view uses.
        public var viewsSecondsPerVideo: Double
        /// One sequential decode of the whole video at the same size, every frame converted.
        public var sequentialSecondsPerVideo: Double
        /// sequential / views: above 1 when the views are faster.
        public var ratio: Double
    }

    /// decord's side: reads `[{path, indices, width, height}]` from stdin and times get_batch.
    static let decordScript = """
        import json, sys, time
        import decord
        jobs = json.load(sys.stdin)
        t0 = time.perf_counter()
        for j in jobs:
            vr = decord.VideoReader(j["path"], ctx=decord.cpu(0), width=j["width"], height=j["height"], num_threads=1)
            vr.get_batch(j["indices"]).asnumpy()
        print(json.dumps({"seconds": time.perf_counter() - t0, "clips": len(jobs), "version": decord.__version__}))
        """

    struct DecordJob: Codable { var path: String; var indices: [Int]; var width: Int; var height: Int }

    static func decord(_ jobs: [DecordJob]) -> (clipsPerSecond: Double?, note: String) {
        guard let python = findExecutable("python3") else { return (nil, "python3 not found") }
        let p = Process(), input = Pipe(), output = Pipe(), errors = Pipe()
        p.executableURL = URL(fileURLWithPath: python)
        p.arguments = ["-c", decordScript]
        p.standardInput = input; p.standardOutput = output; p.standardError = errors
        p.environment = ProcessTuning.untunedEnvironment.merging(["OMP_NUM_THREADS": "1"]) { $1 }
        do {
            try p.run()
            input.fileHandleForWriting.write(try JSONEncoder().encode(jobs))
            try input.fileHandleForWriting.close()
        } catch { return (nil, "python3 could not be started: \(error)") }
        let out = output.fileHandleForReading.readDataToEndOfFile()
        let err = errors.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        struct Reply: Decodable { var seconds: Double; var clips: Int; var version: String }
        guard p.terminationStatus == 0, let r = try? JSONDecoder().decode(Reply.self, from: out) else {
            let why = String(decoding: err, as: UTF8.self).split(separator: "\n").last.map(String.init) ?? "exit \(p.terminationStatus)"
            return (nil, "decord did not run: \(why)")
        }
        return (Double(r.clips) / r.seconds, "decord \(r.version), 1 thread")
    }

    /// Training clips per second at 16x112x112 (clip 16x2, short side 128, TCLR's augmentations):
    /// decoding only what each clip needs, decoding whole videos, from the frame cache, and
    /// decord on the same clips; then 3x10 test views against one sequential decode per video.
    /// Each figure is the best of `rounds`, the rounds interleaved.
    public static func loader(dataset: VideoDataset, clips: Int = 64, workers: Int = 2, rounds: Int = 2,
                              index: FrameIndex? = nil) throws -> LoaderResult {
        let items = Array(dataset.items(split: "train").prefix(clips))
        let clip = ClipSpec(frames: 16, skip: 2), side = 128
        let sampler = ClipSampler(clip: clip, shortSide: side, mode: .train(.tclr(size: 112)))
        let index = index ?? FrameIndex(root: dataset.root)
        let t0 = Timing.now()
        let entries = try index.entries(for: items.map(\.path), jobs: workers)
        let indexSeconds = Timing.now() - t0
        try? index.save()

        func rate(_ loader: ClipLoader, epoch: Int) -> Double {
            let t0 = Timing.now()
            var n = 0
            for b in loader.batches(epoch: epoch) { n += b.indices.count }
            return Double(n) / (Timing.now() - t0)
        }
        let seed: UInt64 = 1
        // Epoch 0's clips, as the loader draws them, for decord.
        let jobs = zip(items.indices, entries).map { i, e -> DecordJob in
            var g = SeededGenerator(seed: seed).derived("sample/0/\(i)")
            let start = clip.randomStart(frameCount: e.table.count, generator: &g)
            let (w, h) = FrameSize.shortSide(side).target(width: e.width, height: e.height)
            return DecordJob(path: items[i].path, indices: clip.indices(start: start, frameCount: e.table.count, policy: .loop), width: w, height: h)
        }
        var cold: [Double] = [], whole: [Double] = [], theirs: [Double] = []
        var note = ""
        for _ in 0..<max(1, rounds) {
            cold.append(rate(ClipLoader(items: items, sampler: sampler, batchSize: 8, workers: workers, seed: seed, shuffle: false,
                                        frameIndex: index), epoch: 0))
            whole.append(rate(ClipLoader(items: items, sampler: sampler, batchSize: 8, workers: workers, seed: seed, shuffle: false),
                              epoch: 0))
            let d = decord(jobs)
            note = d.note
            if let r = d.clipsPerSecond { theirs.append(r) }
        }
        let cachedLoader = ClipLoader(items: items, sampler: sampler, batchSize: 8, workers: workers, seed: seed, shuffle: true,
                                      cacheBytes: 2 << 30)
        _ = rate(cachedLoader, epoch: 0)
        let cached = rate(cachedLoader, epoch: 1)

        // Test views: the frames of 3x10 views of every video, against decoding it whole.
        var views: [Double] = [], sequential: [Double] = []
        for (item, e) in zip(items, entries).prefix(8) {
            let starts = TestSamplingRule.slowfastUniform.starts(frameCount: e.table.count, clip: clip, clips: 10)
            let used = Array(Set(starts.flatMap { clip.indices(start: $0, frameCount: e.table.count, policy: .loop) })).sorted()
            var best = (Double.infinity, Double.infinity)
            for _ in 0..<max(1, rounds) {
                var t = Timing.now()
                _ = try VideoReader(path: item.path).frames(used, size: .shortSide(side), table: e.table)
                best.0 = min(best.0, Timing.now() - t)
                t = Timing.now()
                try VideoReader(path: item.path).decode(size: .shortSide(side)) { _ in true }
                best.1 = min(best.1, Timing.now() - t)
            }
            views.append(best.0); sequential.append(best.1)
        }
        let v = views.reduce(0, +) / Double(max(views.count, 1)), q = sequential.reduce(0, +) / Double(max(sequential.count, 1))
        let coldBest = cold.max() ?? 0, decordBest = theirs.max()
        return LoaderResult(clips: items.count, workers: workers, indexSeconds: indexSeconds, coldClipsPerSecond: coldBest,
                            wholeVideoClipsPerSecond: whole.max() ?? 0, cachedClipsPerSecond: cached,
                            decordClipsPerSecond: decordBest, decordNote: note,
                            perCoreRatioToDecord: decordBest.map { coldBest / Double(workers) / $0 },
                            testViews: TestViewsResult(videos: views.count, viewsSecondsPerVideo: v, sequentialSecondsPerVideo: q,
                                                       ratio: q / max(v, 1e-9)))
    }
}
