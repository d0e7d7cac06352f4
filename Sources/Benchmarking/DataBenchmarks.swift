import Data
import Foundation
import Harness
import Media
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
        public var coldClipsPerSecond: Double
        public var cachedClipsPerSecond: Double
        public var workers: Int
    }

    /// Training clips per second at 16x112x112 (clip 16x2, short side 128, TCLR's augmentations),
    /// decoding every time (cold) and from the frame cache (second epoch).
    public static func loader(dataset: VideoDataset, clips: Int = 64, workers: Int = 2) -> LoaderResult {
        let items = Array(dataset.items(split: "train").prefix(clips))
        let sampler = ClipSampler(clip: ClipSpec(frames: 16, skip: 2), shortSide: 128, mode: .train(.tclr(size: 112)))
        let loader = ClipLoader(items: items, sampler: sampler, batchSize: 8, workers: workers, seed: 1, shuffle: true,
                                cacheBytes: 2 << 30)
        func epoch(_ e: Int) -> Double {
            let t0 = Timing.now()
            var n = 0
            for b in loader.batches(epoch: e) { n += b.indices.count }
            return Double(n) / (Timing.now() - t0)
        }
        let cold = epoch(0)
        let cached = epoch(1)
        return LoaderResult(clips: items.count, coldClipsPerSecond: cold, cachedClipsPerSecond: cached, workers: workers)
    }
}
