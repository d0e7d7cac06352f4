import CSV
import Dispatch
import Engine
import Foundation
import Media

/// Writes the synthetic motion dataset in the challenge's layout:
///
///     DIR/annotations/clsIdx.csv                 label,idx (1-based)
///     DIR/annotations/motion-train.csv           label,videoid,split
///     DIR/annotations/motion-val.csv             label,videoid,split
///     DIR/annotations/motion-test-public.csv     videoid,split (no labels, as the challenge's)
///     DIR/annotations/motion-test-labels.csv     label,videoid,split (kept apart)
///     DIR/train|val|test/<videoid>.mp4           MPEG-4 Part 2 in MP4, 128x96, 12.5 fps, 40-56 frames
///
/// MPEG-4 Part 2 rather than H.264: FFmpeg's own encoder gives identical bytes for identical
/// frames every time; libx264 (5.1, one thread) was seen to vary between encodes in one process.
public enum SyntheticDataset {
    public struct Options: Sendable {
        public var seed: UInt64 = 0
        public var classes: Int = 10
        public var perClass: (train: Int, val: Int, test: Int) = (20, 5, 5)
        public var width = 128, height = 96
        public init() {}

        /// The videos rendered per split (every class has the same counts).
        public var videos: (train: Int, val: Int, test: Int) {
            (classes * perClass.train, classes * perClass.val, classes * perClass.test)
        }
    }

    /// What a rendered folder was made from, written as `DIR/synth.json`: a folder whose manifest
    /// differs from the options a caller wants is stale (rendered by an older profile) and is not
    /// silently reused.
    public struct Manifest: Codable, Equatable, Sendable {
        public var seed: UInt64
        public var classes: Int
        public var perClass: [Int]   // train, val, test
        public var width: Int, height: Int

        public init(_ o: Options) {
            seed = o.seed; classes = o.classes; perClass = [o.perClass.train, o.perClass.val, o.perClass.test]
            width = o.width; height = o.height
        }

        public static func path(in dir: String) -> String { "\(dir)/synth.json" }

        /// The manifest of a rendered folder; nil when there is none (or it is unreadable).
        public static func read(from dir: String) -> Manifest? {
            guard let data = FileManager.default.contents(atPath: path(in: dir)) else { return nil }
            return try? JSONDecoder().decode(Manifest.self, from: data)
        }
    }

    public struct Summary: Sendable {
        public var videos: Int
        public var frames: Int
        public var seconds: Double
    }

    static let idAlphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")

    /// A 10-character video id like the challenge's; the first is a letter (a leading "-" reads
    /// as an option to command-line tools).
    static func videoID(_ g: inout SeededGenerator) -> String {
        String([idAlphabet[g.int(below: 52)]] + (1..<10).map { _ in idAlphabet[g.int(below: idAlphabet.count)] })
    }

    struct Item { var split: String; var label: Int; var id: String; var script: SyntheticMotion.Script }

    /// The videos the options describe, in CSV order, each with its own generator-derived script.
    static func plan(_ o: Options) -> [Item] {
        var items: [Item] = []
        var ids = SeededGenerator(seed: o.seed).derived("video ids")
        var used = Set<String>()
        for (split, count) in [("train", o.perClass.train), ("val", o.perClass.val), ("test", o.perClass.test)] {
            for i in 0..<count {
                for c in 0..<o.classes {
                    var g = SeededGenerator(seed: o.seed).derived("\(split)/\(c)/\(i)")
                    var id = videoID(&ids)
                    while !used.insert(id).inserted { id = videoID(&ids) }
                    items.append(Item(split: split, label: c, id: id,
                                      script: SyntheticMotion.script(label: c, width: o.width, height: o.height, generator: &g)))
                }
            }
        }
        return items
    }

    /// Renders and writes everything. `progress(done, total)` is called as videos finish.
    @discardableResult
    public static func generate(into dir: String, options o: Options, progress: @escaping (Int, Int) -> Void = { _, _ in }) throws -> Summary {
        precondition(o.classes >= 2 && o.classes <= SyntheticMotion.classNames.count, "2 to 10 classes")
        let start = Date()
        let fm = FileManager.default
        for sub in ["annotations", "train", "val", "test"] {
            try fm.createDirectory(atPath: "\(dir)/\(sub)", withIntermediateDirectories: true)
        }
        let items = plan(o)
        let names = Array(SyntheticMotion.classNames.prefix(o.classes))
        func rows(_ split: String, labelled: Bool) -> [[String]] {
            items.filter { $0.split == split }.map { labelled ? [names[$0.label], $0.id, $0.split] : [$0.id, $0.split] }
        }
        let files: [(String, [String], [[String]])] = [
            ("clsIdx.csv", ["label", "idx"], names.enumerated().map { [$1, "\($0 + 1)"] }),
            ("motion-train.csv", ["label", "videoid", "split"], rows("train", labelled: true)),
            ("motion-val.csv", ["label", "videoid", "split"], rows("val", labelled: true)),
            ("motion-test-public.csv", ["videoid", "split"], rows("test", labelled: false)),
            ("motion-test-labels.csv", ["label", "videoid", "split"], rows("test", labelled: true)),
        ]
        for (name, header, body) in files {
            try CSVTable.render(header: header, rows: body).write(toFile: "\(dir)/annotations/\(name)", atomically: true, encoding: .utf8)
        }

        // Videos in parallel; each is fully determined by its script.
        let lock = NSLock()
        var done = 0, frames = 0
        var failure: Error?
        DispatchQueue.concurrentPerform(iterations: items.count) { i in
            let item = items[i]
            do {
                let path = "\(dir)/\(item.split)/\(item.id).mp4"
                let writer = try VideoWriter(path: path + ".partial.mp4", width: o.width, height: o.height,
                                             frameRate: Fraction(numerator: 25, denominator: 2), codec: .mpeg4(qscale: 3))
                for t in 0..<item.script.frames { try writer.write(SyntheticMotion.render(item.script, frame: t)) }
                try writer.finish()
                if fm.fileExists(atPath: path) { try fm.removeItem(atPath: path) }
                try fm.moveItem(atPath: path + ".partial.mp4", toPath: path)
                lock.lock(); done += 1; frames += item.script.frames; let d = done; lock.unlock()
                progress(d, items.count)
            } catch {
                lock.lock(); failure = failure ?? error; lock.unlock()
            }
        }
        if let failure { throw failure }
        // Last, so that a folder with a manifest is a complete one.
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(Manifest(o)).write(to: URL(fileURLWithPath: Manifest.path(in: dir)), options: .atomic)
        return Summary(videos: items.count, frames: frames, seconds: Date().timeIntervalSince(start))
    }
}
