import Annotations
import CSV
import Foundation

/// A labelled list of videos, read from one of the layouts researchers use.
public struct VideoDataset: Sendable {
    public struct Item: Sendable, Equatable {
        public var id: String
        public var path: String
        /// 0-based class index, nil where unknown (a test split).
        public var label: Int?
        public var split: String

        public init(id: String, path: String, label: Int?, split: String) {
            self.id = id; self.path = path; self.label = label; self.split = split
        }
    }

    public var root: String
    public var classes: [String]
    public var items: [Item]
    /// Video ids the organisers list as corrupt (`annotations/*corrupted_videos.txt`: one path per
    /// line, the id is the file name).
    public var knownCorrupt: Set<String> = []

    public init(root: String, classes: [String], items: [Item], knownCorrupt: Set<String> = []) {
        self.root = root; self.classes = classes; self.items = items; self.knownCorrupt = knownCorrupt
    }

    public func items(split: String) -> [Item] { items.filter { $0.split == split } }
    public var splits: [String] { Array(Set(items.map(\.split))).sorted() }

    /// The challenge's layout: `annotations/clsIdx.csv` (label,idx), `annotations/*-{train,val}.csv`
    /// (label,videoid,split), `annotations/*-test*.csv` (videoid,split, or with labels), videos at
    /// `train|val|test/<videoid>.mp4`. A `*-test-labels.csv` (the synthetic set's) supplies test labels.
    public static func challenge(root: String) throws -> VideoDataset {
        let ann = root + "/annotations"
        let fm = FileManager.default
        guard fm.fileExists(atPath: ann + "/clsIdx.csv") else {
            throw CSVError(source: root, line: nil, message: "has no annotations/clsIdx.csv (not in the challenge's layout)")
        }
        let classIndex = try ClassIndex(contentsOf: ann + "/clsIdx.csv")
        let classes = classIndex.names
        let files = try fm.contentsOfDirectory(atPath: ann).filter { $0.hasSuffix(".csv") && $0 != "clsIdx.csv" }.sorted()
        var items: [Item] = []
        var testLabels: [String: Int] = [:]
        // A video listed by two files of one split (a public test list and a separate label list
        // under another name) is one video: the second listing only adds a missing label. The
        // file kept for it is the one its label came from (named when another file disagrees).
        var listed: [String: (index: Int, file: String)] = [:]
        for file in files {
            let t = try CSVTable(contentsOf: ann + "/" + file)
            try t.requireRectangular()
            let idc = try t.column("videoid")
            let splitc = t.header.firstIndex(of: "split")
            let labelc = t.header.firstIndex(of: "label")
            let isLabelList = file.hasSuffix("-test-labels.csv")
            for r in t.records {
                let id = r.fields[idc]
                var label: Int?
                if let labelc {
                    guard let l = classIndex.index(of: r.fields[labelc]).map({ $0 - 1 }) else {
                        throw CSVError(source: t.source, line: r.line, message: "class '\(r.fields[labelc])' is not in clsIdx.csv")
                    }
                    label = l
                }
                if isLabelList { if let label { testLabels[id] = label }; continue }
                let split = splitc.map { r.fields[$0] } ?? (file.contains("train") ? "train" : file.contains("val") ? "val" : "test")
                if let earlier = listed[split + "/" + id] {
                    let known = items[earlier.index].label
                    if let label, let known, label != known {
                        throw CSVError(source: t.source, line: r.line, message:
                            "video '\(id)' is labelled '\(classes[label])' here and '\(classes[known])' in \(earlier.file)")
                    }
                    if known == nil, label != nil { items[earlier.index].label = label; listed[split + "/" + id] = (earlier.index, file) }
                    continue
                }
                listed[split + "/" + id] = (items.count, file)
                items.append(Item(id: id, path: "\(root)/\(split)/\(id).mp4", label: label, split: split))
            }
        }
        for i in items.indices where items[i].label == nil { items[i].label = testLabels[items[i].id] }
        var corrupt = Set<String>()
        for file in try fm.contentsOfDirectory(atPath: ann) where file.hasSuffix("corrupted_videos.txt") {
            corrupt.formUnion(try readCorruptVideoList(ann + "/" + file))
        }
        var dataset = VideoDataset(root: root, classes: classes, items: items)
        dataset.knownCorrupt = corrupt
        return dataset
    }

    /// Kinetics' CSVs (`label,youtube_id,time_start,time_end,split`), videos at
    /// `<split>/<label>/<youtube_id>_<start:06>_<end:06>.mp4` or `<split>/<youtube_id>_...mp4`.
    public static func kinetics(csv: String, root: String) throws -> VideoDataset {
        let t = try CSVTable(contentsOf: csv)
        try t.requireRectangular()
        let (lc, yc, sc, ec) = (try t.column("label"), try t.column("youtube_id"), try t.column("time_start"), try t.column("time_end"))
        let splitc = t.header.firstIndex(of: "split")
        let classes = Array(Set(t.records.map { $0.fields[lc] })).sorted()
        let lookup = Dictionary(classes.enumerated().map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
        let items = try t.records.map { r -> Item in
            guard let s = Int(r.fields[sc]), let e = Int(r.fields[ec]) else {
                throw CSVError(source: csv, line: r.line, message: "time_start/time_end are not integers")
            }
            let name = String(format: "%@_%06d_%06d.mp4", r.fields[yc], s, e)
            let split = splitc.map { r.fields[$0] } ?? "train"
            let nested = "\(root)/\(split)/\(r.fields[lc])/\(name)"
            let path = FileManager.default.fileExists(atPath: nested) ? nested : "\(root)/\(split)/\(name)"
            return Item(id: name.replacingOccurrences(of: ".mp4", with: ""), path: path, label: lookup[r.fields[lc]], split: split)
        }
        return VideoDataset(root: root, classes: classes, items: items)
    }

    /// UCF101's split lists: `classInd.txt` ("1 ApplyEyeMakeup"), `trainlist0N.txt`
    /// ("ApplyEyeMakeup/v_..._c01.avi 1") and `testlist0N.txt` (paths only; the class is the folder).
    public static func ucf101(listsDirectory lists: String, videos root: String, split: Int = 1) throws -> VideoDataset {
        func lines(_ file: String) throws -> [(Int, String)] {
            guard let text = try? String(contentsOfFile: "\(lists)/\(file)", encoding: .utf8) else {
                throw CSVError(source: "\(lists)/\(file)", line: nil, message: "cannot be read")
            }
            return text.split(whereSeparator: \.isNewline).enumerated().map { ($0 + 1, $1.trimmingCharacters(in: .whitespaces)) }
                .filter { !$0.1.isEmpty }
        }
        var classes: [Int: String] = [:]
        for (n, line) in try lines("classInd.txt") {
            let p = line.split(separator: " ")
            guard p.count == 2, let i = Int(p[0]) else { throw CSVError(source: "\(lists)/classInd.txt", line: n, message: "expected 'index name'") }
            classes[i] = String(p[1])
        }
        let names = (1...max(classes.count, 1)).compactMap { classes[$0] }
        let lookup = Dictionary(names.enumerated().map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
        var items: [Item] = []
        for (file, splitName) in [("trainlist0\(split).txt", "train"), ("testlist0\(split).txt", "test")] {
            for (n, line) in try lines(file) {
                let rel = String(line.split(separator: " ")[0])
                let folder = rel.split(separator: "/").first.map(String.init) ?? ""
                guard let label = lookup[folder] else {
                    throw CSVError(source: "\(lists)/\(file)", line: n, message: "class folder '\(folder)' is not in classInd.txt")
                }
                items.append(Item(id: (rel as NSString).deletingPathExtension, path: "\(root)/\(rel)", label: label, split: splitName))
            }
        }
        return VideoDataset(root: root, classes: names, items: items)
    }

    /// A plain `path,label` CSV (paths relative to the CSV's folder); every row is in split `train`
    /// unless a `split` column says otherwise.
    public static func pathLabel(csv: String) throws -> VideoDataset {
        let t = try CSVTable(contentsOf: csv)
        try t.requireRectangular()
        let (pc, lc) = (try t.column("path"), try t.column("label"))
        let splitc = t.header.firstIndex(of: "split")
        let base = (csv as NSString).deletingLastPathComponent
        let classes = Array(Set(t.records.map { $0.fields[lc] })).sorted()
        let lookup = Dictionary(classes.enumerated().map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
        let items = t.records.map { r in
            let p = r.fields[pc]
            return Item(id: (p as NSString).lastPathComponent, path: p.hasPrefix("/") ? p : "\(base)/\(p)",
                        label: lookup[r.fields[lc]], split: splitc.map { r.fields[$0] } ?? "train")
        }
        return VideoDataset(root: base, classes: classes, items: items)
    }
}
