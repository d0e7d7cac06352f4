import CSV
import Foundation

// The challenge's annotation files, shared by Evaluation (scoring) and Data (dataset reading).

/// `clsIdx.csv`: `label,idx` with idx 1..K, each once. Class k (1-based) is `names[k - 1]`.
public struct ClassIndex: Sendable, Equatable {
    public let names: [String]
    public let source: String
    private let positions: [String: Int]

    public var count: Int { names.count }

    public init(names: [String], source: String = "<classes>") {
        self.names = names; self.source = source
        positions = Dictionary(names.enumerated().map { ($1, $0 + 1) }, uniquingKeysWith: { a, _ in a })
    }

    public static func == (a: ClassIndex, b: ClassIndex) -> Bool { a.names == b.names }

    public init(contentsOf path: String) throws {
        let t = try CSVTable(contentsOf: path)
        try t.requireRectangular()
        let (labelCol, idxCol) = (try t.column("label"), try t.column("idx"))
        var byIndex: [Int: String] = [:]
        var seen: [String: Int] = [:]
        for r in t.records {
            let name = r.fields[labelCol]
            guard let idx = Int(r.fields[idxCol].trimmingCharacters(in: .whitespaces)), idx >= 1 else {
                throw CSVError(source: path, line: r.line, message: "idx '\(r.fields[idxCol])' is not a positive integer")
            }
            if let other = byIndex[idx] {
                throw CSVError(source: path, line: r.line, message: "idx \(idx) is used twice ('\(other)' and '\(name)')")
            }
            if let first = seen[name] {
                throw CSVError(source: path, line: r.line, message: "class '\(name)' appears twice (idx \(first) and \(idx))")
            }
            byIndex[idx] = name
            seen[name] = idx
        }
        guard !byIndex.isEmpty else { throw CSVError(source: path, line: nil, message: "lists no classes") }
        for i in 1...byIndex.count where byIndex[i] == nil {
            throw CSVError(source: path, line: nil, message: "idx \(i) is missing (indices must run 1..\(byIndex.count))")
        }
        self.init(names: (1...byIndex.count).map { byIndex[$0]! }, source: path)
    }

    /// The 1-based index of a class name, or nil.
    public func index(of name: String) -> Int? { positions[name] }
}

/// Videos with their true classes (1-based), from a `label,videoid,split` CSV.
public struct LabelledVideos: Sendable {
    public var videoIDs: [String]
    /// 1-based class indices, parallel to `videoIDs`.
    public var classes: [Int]
    public var source: String

    public init(videoIDs: [String], classes: [Int], source: String = "<labels>") {
        precondition(videoIDs.count == classes.count)
        self.videoIDs = videoIDs; self.classes = classes; self.source = source
    }

    /// Reads the challenge's annotation CSV; every label must be in `classes`. A duplicate video
    /// id, an unknown label or a missing column is an error naming the file and line.
    public init(contentsOf path: String, classes: ClassIndex, split: String? = nil) throws {
        let t = try CSVTable(contentsOf: path)
        try t.requireRectangular()
        let labelCol = try t.column("label"), idCol = try t.column("videoid")
        let splitCol = t.header.firstIndex(of: "split")
        var ids: [String] = [], labels: [Int] = []
        var seen = Set<String>()
        for r in t.records {
            if let split, let splitCol, r.fields[splitCol] != split { continue }
            let id = r.fields[idCol], label = r.fields[labelCol]
            guard let c = classes.index(of: label) else {
                throw CSVError(source: path, line: r.line, message: "class '\(label)' is not in \(classes.source)")
            }
            guard !id.isEmpty else { throw CSVError(source: path, line: r.line, message: "empty videoid") }
            guard seen.insert(id).inserted else {
                throw CSVError(source: path, line: r.line, message: "video '\(id)' appears twice")
            }
            ids.append(id); labels.append(c)
        }
        self.init(videoIDs: ids, classes: labels, source: path)
    }

    /// Leaves out the given videos (for example the organisers' list of corrupt videos).
    public func excluding(_ ids: Set<String>) -> LabelledVideos {
        let keep = videoIDs.indices.filter { !ids.contains(videoIDs[$0]) }
        return LabelledVideos(videoIDs: keep.map { videoIDs[$0] }, classes: keep.map { classes[$0] }, source: source)
    }
}

/// The organisers' list of corrupt videos: one path per line; the id is the file name without extension.
public func readCorruptVideoList(_ path: String) throws -> Set<String> {
    guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
        throw CSVError(source: path, line: nil, message: FileManager.default.fileExists(atPath: path) ? "is not UTF-8 text" : "file not found")
    }
    return Set(text.split(whereSeparator: \.isNewline).compactMap { line -> String? in
        let name = (line.trimmingCharacters(in: .whitespaces) as NSString).lastPathComponent
        let id = name.split(separator: ".").first.map(String.init) ?? ""
        return id.isEmpty ? nil : id
    })
}

/// Finds the annotation files in a challenge `annotations/` folder: `clsIdx.csv` and the CSV whose
/// name ends in `-<split>.csv` (or is `<split>.csv`).
public func locateAnnotations(directory: String, split: String) throws -> (classes: String, labels: String) {
    var isDir: ObjCBool = false
    guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDir), isDir.boolValue else {
        throw CSVError(source: directory, line: nil, message: "is not a folder of annotation files")
    }
    let files = (try FileManager.default.contentsOfDirectory(atPath: directory)).sorted()
    guard files.contains("clsIdx.csv") else {
        throw CSVError(source: directory, line: nil, message: "has no clsIdx.csv")
    }
    guard let labels = files.first(where: { $0 == "\(split).csv" || $0.hasSuffix("-\(split).csv") || $0.hasSuffix("_\(split).csv") }) else {
        throw CSVError(source: directory, line: nil, message: "has no annotation file for split '\(split)' (looked for *-\(split).csv)")
    }
    return (directory + "/clsIdx.csv", directory + "/" + labels)
}
