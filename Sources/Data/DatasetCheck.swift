import Dispatch
import Foundation
import Media

/// Checks every video of a dataset: present, decodable, long enough.
public enum DatasetCheck {
    public struct Problem: Codable, Sendable, Equatable {
        public var id: String
        public var path: String
        public var split: String
        /// missing | undecodable | too-short | damaged | listed-corrupt
        public var kind: String
        public var reason: String
    }

    public struct Report: Sendable {
        public var videos: Int
        /// split -> class name -> videos listed
        public var counts: [String: [String: Int]]
        public var problems: [Problem]
        public var decodedFrames: [String: Int]
    }

    /// Decodes every listed video (in parallel) and reports what is wrong with each. With `index`,
    /// the decoding also fills the frame index (and a video whose entry is up to date is not
    /// decoded again).
    public static func run(_ dataset: VideoDataset, minimumFrames: Int = 16, index: FrameIndex? = nil,
                           progress: @escaping (Int) -> Void = { _ in }) -> Report {
        var counts: [String: [String: Int]] = [:]
        for item in dataset.items {
            let name = item.label.map { dataset.classes[$0] } ?? "(unlabelled)"
            counts[item.split, default: [:]][name, default: 0] += 1
        }
        let lock = NSLock()
        var problems: [Problem] = []
        var frames: [String: Int] = [:]
        var done = 0
        DispatchQueue.concurrentPerform(iterations: dataset.items.count) { i in
            let item = dataset.items[i]
            var found: [Problem] = []
            var count: Int?
            if dataset.knownCorrupt.contains(item.id) {
                found.append(Problem(id: item.id, path: item.path, split: item.split, kind: "listed-corrupt",
                                     reason: "on the dataset's list of corrupt videos; skipped"))
                lock.lock(); problems += found; done += 1; let d = done; lock.unlock()
                progress(d)
                return
            }
            do {
                let n: Int, warnings: [String]
                if let index {
                    let e = try index.entry(for: item.path)
                    (n, warnings) = (e.table.count, e.warnings)
                } else {
                    let (c, w) = try VideoReader(path: item.path).countFrames()
                    (n, warnings) = (c, w.map(\.message))
                }
                count = n
                if n < minimumFrames {
                    found.append(Problem(id: item.id, path: item.path, split: item.split, kind: "too-short",
                                         reason: "\(n) frames decode, fewer than \(minimumFrames)"))
                }
                for w in warnings where !w.hasPrefix("the header claims") {
                    found.append(Problem(id: item.id, path: item.path, split: item.split, kind: "damaged", reason: w))
                }
            } catch MediaError.fileNotFound {
                found.append(Problem(id: item.id, path: item.path, split: item.split, kind: "missing", reason: "file not found"))
            } catch {
                found.append(Problem(id: item.id, path: item.path, split: item.split, kind: "undecodable", reason: "\(error)"))
            }
            lock.lock()
            problems += found
            if let count { frames[item.id] = count }
            done += 1
            let d = done
            lock.unlock()
            progress(d)
        }
        problems.sort { ($0.split, $0.id, $0.kind) < ($1.split, $1.id, $1.kind) }
        return Report(videos: dataset.items.count, counts: counts, problems: problems, decodedFrames: frames)
    }
}
