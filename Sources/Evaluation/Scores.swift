@_exported import Annotations
import Foundation
import Safetensors

/// Per-view logits of a model on a set of videos, stored as safetensors so Python can read them:
///
/// - tensor `logits`: F32, N x spatial crops x temporal clips x classes;
/// - tensor `labels`: I64, N, the 0-based class of each video, -1 where unknown (test split);
/// - metadata `video_ids` and `class_names`: JSON arrays of strings (class names in clsIdx.csv
///   order); `model`, `modality`, `clip` (frames x skip, "16x2"), `crop_rule`, `sampling_rule`,
///   `split`, `score_kind` (`logits`, or `log-probabilities` for a fused ensemble) and any others.
public struct ScoresFile: Sendable {
    public var videoIDs: [String]
    /// 0-based class per video; nil where unknown.
    public var labels: [Int?]
    public var classNames: [String]
    public var spatialCrops: Int
    public var temporalClips: Int
    /// N * spatialCrops * temporalClips * classes, row-major.
    public var logits: [Float]
    public var metadata: [String: String]
    public var source: String

    public var videoCount: Int { videoIDs.count }
    public var classCount: Int { classNames.count }

    public init(videoIDs: [String], labels: [Int?], classNames: [String], spatialCrops: Int, temporalClips: Int,
                logits: [Float], metadata: [String: String] = [:], source: String = "<scores>") throws {
        self.videoIDs = videoIDs; self.labels = labels; self.classNames = classNames
        self.spatialCrops = spatialCrops; self.temporalClips = temporalClips; self.logits = logits
        self.metadata = metadata; self.source = source
        try validate()
    }

    /// Checks that shapes, ids, labels and class names agree; errors name the file and the row.
    public func validate() throws {
        func fail(_ m: String) -> EvaluationError { .file(source, m) }
        guard spatialCrops >= 1, temporalClips >= 1, !classNames.isEmpty else {
            throw fail("needs at least one crop, one clip and one class (has \(spatialCrops)x\(temporalClips) views, \(classNames.count) classes)")
        }
        guard labels.count == videoIDs.count else {
            throw fail("has \(labels.count) labels for \(videoIDs.count) video ids")
        }
        let expected = videoIDs.count * spatialCrops * temporalClips * classNames.count
        guard logits.count == expected else {
            throw fail("logits hold \(logits.count) values; \(videoIDs.count) videos x \(spatialCrops)x\(temporalClips) views x \(classNames.count) classes need \(expected)")
        }
        var seen: [String: Int] = [:]
        for (row, id) in videoIDs.enumerated() {
            if id.isEmpty { throw fail("row \(row): empty video id") }
            if let first = seen[id] { throw fail("row \(row): video '\(id)' repeats row \(first)") }
            seen[id] = row
        }
        for (row, label) in labels.enumerated() {
            if let label, !(0..<classNames.count).contains(label) {
                throw fail("row \(row) (video '\(videoIDs[row])'): label \(label) is outside 0..\(classNames.count - 1)")
            }
        }
        if let i = logits.firstIndex(where: { !$0.isFinite }) {
            let row = i / (spatialCrops * temporalClips * classNames.count)
            throw fail("row \(row) (video '\(videoIDs[row])'): logits contain \(logits[i])")
        }
    }

    public func write(to path: String) throws {
        var meta = metadata
        meta["video_ids"] = String(decoding: try JSONSerialization.data(withJSONObject: videoIDs), as: UTF8.self)
        meta["class_names"] = String(decoding: try JSONSerialization.data(withJSONObject: classNames), as: UTF8.self)
        let file = SafetensorsFile(tensors: [
            "logits": .init(floats: logits, shape: [videoCount, spatialCrops, temporalClips, classCount]),
            "labels": .init(int64s: labels.map { Int64($0 ?? -1) }, shape: [videoCount]),
        ], metadata: meta)
        try file.write(to: path)
    }

    public init(contentsOf path: String) throws {
        let file = try SafetensorsFile(contentsOf: path)
        func fail(_ m: String) -> EvaluationError { .file(path, m) }
        guard let logits = file.tensors["logits"] else { throw fail("has no 'logits' tensor") }
        guard logits.shape.count == 4 else {
            throw fail("'logits' has shape \(logits.shape); expected videos x crops x clips x classes")
        }
        func strings(_ key: String) throws -> [String] {
            guard let text = file.metadata[key] else { throw fail("metadata lacks '\(key)'") }
            guard let array = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String] else {
                throw fail("metadata '\(key)' is not a JSON array of strings")
            }
            return array
        }
        let ids = try strings("video_ids"), names = try strings("class_names")
        guard ids.count == logits.shape[0] else {
            throw fail("video_ids has \(ids.count) entries but logits has \(logits.shape[0]) videos")
        }
        guard names.count == logits.shape[3] else {
            throw fail("class_names has \(names.count) entries but logits has \(logits.shape[3]) classes")
        }
        var labels: [Int?] = Array(repeating: nil, count: ids.count)
        if let l = file.tensors["labels"] {
            guard l.shape == [ids.count] else { throw fail("'labels' has shape \(l.shape); expected [\(ids.count)]") }
            labels = l.int64s().map { $0 < 0 ? nil : Int($0) }
        }
        var meta = file.metadata
        meta.removeValue(forKey: "video_ids"); meta.removeValue(forKey: "class_names")
        try self.init(videoIDs: ids, labels: labels, classNames: names, spatialCrops: logits.shape[1],
                      temporalClips: logits.shape[2], logits: logits.floats(), metadata: meta, source: path)
    }

    /// The logit of video `v`, crop `s`, clip `t`, class `c`.
    @inlinable public func logit(_ v: Int, _ s: Int, _ t: Int, _ c: Int) -> Float {
        logits[((v * spatialCrops + s) * temporalClips + t) * classNames.count + c]
    }

    /// The labelled videos, as 1-based classes in the order of `classes` (names must all be there).
    public func labelledVideos(classes: ClassIndex) throws -> LabelledVideos {
        let map = try classMapping(to: classes)
        var ids: [String] = [], cls: [Int] = []
        for (id, label) in zip(videoIDs, labels) {
            guard let label else { continue }
            ids.append(id); cls.append(map[label])
        }
        return LabelledVideos(videoIDs: ids, classes: cls, source: source)
    }

    /// For each of this file's classes, its 1-based index in `classes`; an unknown name is an error.
    public func classMapping(to classes: ClassIndex) throws -> [Int] {
        try classNames.enumerated().map { i, name in
            guard let idx = classes.index(of: name) else {
                throw EvaluationError.file(source, "class \(i) '\(name)' is not in \(classes.source)")
            }
            return idx
        }
    }
}
