import Dispatch
import Foundation
import Media

/// Where every video's frames are (`FrameTable`: the count that decodes, timestamps, keyframes),
/// built once per video and kept in `<root>/.vipbench/frame-index.json` (or, for a folder that
/// cannot be written, in the user's cache), so the loader can decode only the part of a video a
/// clip needs. An entry is rebuilt when its file's size or modification time changes. Built by
/// `dataset check` or on first use.
public final class FrameIndex: @unchecked Sendable {
    public struct Entry: Codable, Equatable, Sendable {
        public var bytes: Int64
        public var modified: Double
        /// Displayed size (after rotation).
        public var width: Int
        public var height: Int
        public var table: FrameTable
        /// What decoding the whole video met (damage), as messages.
        public var warnings: [String]
    }

    static let format = "vipbench-frame-index-1"

    struct Stored: Codable {
        var format = FrameIndex.format
        var videos: [String: Entry]
    }

    public let root: String
    /// Where the index is kept: beside the dataset.
    public let file: String
    /// Where it goes when the dataset's folder cannot be written (a shared, read-only dataset):
    /// the user's cache, one file per dataset folder.
    public let fallbackFile: String
    /// The file the index was last read from or written to (nil before either).
    public var location: String? { lock.lock(); defer { lock.unlock() }; return lastLocation }
    private var lastLocation: String?
    private var entries: [String: Entry] = [:]
    private var unsaved = 0
    private let lock = NSLock()
    /// Entries this process built (decoded a video to make them).
    public var built: Int { lock.lock(); defer { lock.unlock() }; return builtCount }
    private var builtCount = 0
    /// New entries are written every this many (a long first epoch that dies keeps most of them).
    static let saveEvery = 200
    /// Whether `save` writes (the processes of a data-parallel job but the first use the index and
    /// leave the writing to the first, so they do not overwrite each other's entries).
    public var writes: Bool {
        get { lock.lock(); defer { lock.unlock() }; return writable }
        set { lock.lock(); writable = newValue; lock.unlock() }
    }
    private var writable = true

    /// Opens the index of the folder `root`: `file` (default `<root>/.vipbench/frame-index.json`),
    /// else the copy in `fallbackDirectory` (default `$XDG_CACHE_HOME` or `~/.cache`, then
    /// `vipbench/frame-index`). An unreadable or foreign index file is ignored: its entries are
    /// rebuilt as videos are used.
    public init(root: String, file: String? = nil, fallbackDirectory: String? = nil) {
        self.root = root
        self.file = file ?? "\(root)/.vipbench/frame-index.json"
        let environment = ProcessInfo.processInfo.environment
        let cache = fallbackDirectory
            ?? (environment["XDG_CACHE_HOME"].map { $0 + "/vipbench/frame-index" } ?? NSHomeDirectory() + "/.cache/vipbench/frame-index")
        let absolute = root.hasPrefix("/") ? root : FileManager.default.currentDirectoryPath + "/" + root
        fallbackFile = "\(cache)/\(FrameIndex.fnv1a(absolute)).json"
        for candidate in [self.file, fallbackFile] {
            if let data = FileManager.default.contents(atPath: candidate),
               let stored = try? JSONDecoder().decode(Stored.self, from: data), stored.format == FrameIndex.format {
                entries = stored.videos
                lastLocation = candidate
                break
            }
        }
    }

    /// A stable name for a folder (64-bit FNV-1a of its path, hexadecimal).
    static func fnv1a(_ s: String) -> String {
        var h: UInt64 = 0xcbf29ce484222325
        for b in s.utf8 { h = (h ^ UInt64(b)) &* 0x100000001b3 }
        return String(h, radix: 16)
    }

    /// Videos in the index (up to date or not).
    public var count: Int { lock.lock(); defer { lock.unlock() }; return entries.count }

    /// Entries not yet written to `file`.
    public var unsavedEntries: Int { lock.lock(); defer { lock.unlock() }; return unsaved }

    func key(_ path: String) -> String {
        path.hasPrefix(root + "/") ? String(path.dropFirst(root.count + 1)) : path
    }

    /// The entry of the video at `path`, decoding it (without converting a frame) when the index
    /// has none or the file changed since.
    public func entry(for path: String) throws -> Entry {
        let (bytes, modified) = try Self.stamp(path)
        let k = key(path)
        lock.lock()
        if let e = entries[k], e.bytes == bytes, e.modified == modified { lock.unlock(); return e }
        lock.unlock()
        let reader = try VideoReader(path: path)
        let (table, warnings) = try reader.frameTable()
        let e = Entry(bytes: bytes, modified: modified, width: reader.info.width, height: reader.info.height, table: table,
                      warnings: warnings.map(\.message))
        lock.lock()
        entries[k] = e
        unsaved += 1
        builtCount += 1
        let due = unsaved >= FrameIndex.saveEvery
        lock.unlock()
        if due { try? save() }  // best effort here; the loader saves again at the end of the epoch
        return e
    }

    /// The entries of several videos, built `jobs` at a time; the first failure is thrown.
    public func entries(for paths: [String], jobs: Int) throws -> [Entry] {
        var results = [Result<Entry, Error>?](repeating: nil, count: paths.count)
        let lock = NSLock()
        var next = 0
        DispatchQueue.concurrentPerform(iterations: max(1, min(jobs, paths.count))) { _ in
            while true {
                lock.lock(); let i = next; next += 1; lock.unlock()
                guard i < paths.count else { return }
                let r = Result { try entry(for: paths[i]) }
                lock.lock(); results[i] = r; lock.unlock()
            }
        }
        return try results.map { try $0!.get() }
    }

    /// A file's size and modification time: what tells an entry is still the file's.
    static func stamp(_ path: String) throws -> (bytes: Int64, modified: Double) {
        let attributes: [FileAttributeKey: Any]
        do { attributes = try FileManager.default.attributesOfItem(atPath: path) } catch {
            if !FileManager.default.fileExists(atPath: path) { throw MediaError.fileNotFound(path: path) }
            throw FrameIndexError(path: path, message: "cannot be read: \(error.localizedDescription)")
        }
        return ((attributes[.size] as? NSNumber)?.int64Value ?? -1,
                (attributes[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0)
    }

    /// The up-to-date entries of `paths` the index holds, keyed as stored (to hand to another
    /// process: `merge`).
    public func storedEntries(for paths: [String]) -> [String: Entry] {
        var out: [String: Entry] = [:]
        for path in paths {
            guard let (bytes, modified) = try? Self.stamp(path) else { continue }
            let k = key(path)
            lock.lock()
            if let e = entries[k], e.bytes == bytes, e.modified == modified { out[k] = e }
            lock.unlock()
        }
        return out
    }

    /// Adds entries another process built (`storedEntries`), unless this index has the same.
    public func merge(_ others: [String: Entry]) {
        lock.lock(); defer { lock.unlock() }
        for (k, e) in others where entries[k] != e {
            entries[k] = e
            unsaved += 1
        }
    }

    /// Writes the index when it has new entries (to a temporary name, then renamed): beside the
    /// dataset, or in the user's cache when the dataset's folder cannot be written.
    public func save() throws {
        lock.lock()
        guard unsaved > 0, writable else { lock.unlock(); return }
        let stored = Stored(videos: entries)
        unsaved = 0
        lock.unlock()
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = try encoder.encode(stored)
        var failures: [String] = []
        for target in [file, fallbackFile] {
            do {
                try FileManager.default.createDirectory(atPath: (target as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                try data.write(to: URL(fileURLWithPath: target), options: .atomic)
                lock.lock(); lastLocation = target; lock.unlock()
                return
            } catch {
                failures.append("\(target): \(error.localizedDescription)")
            }
        }
        lock.lock(); unsaved += 1; lock.unlock()
        throw FrameIndexError(path: file, message: "cannot write the frame index (\(failures.joined(separator: "; ")))")
    }
}

public struct FrameIndexError: Error, CustomStringConvertible {
    public var path: String
    public var message: String
    public var description: String { "\(path): \(message)" }
}
