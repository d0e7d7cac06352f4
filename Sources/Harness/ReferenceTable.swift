import CSV
import Store

/// The report's Table 1 as a CSV file (`results/reference/table1.csv`): one row per configuration,
/// descriptor columns, then one or more metric columns named `<split>_<metric>[_percent]`.
public enum ReferenceTable {
    /// Where the published numbers come from; stored with every row.
    public static let source = "knights-vipriors2021-table1"
    public static let defaultPath = "results/reference/table1.csv"

    static let descriptors = ["row", "model", "modality", "pretraining", "resolution", "frames", "skip",
                              "spatial_crops", "temporal_clips"]
    static let splits: Set<String> = ["train", "val", "test"]

    /// Reads the table, checking every column and value; errors name the file, line and column.
    public static func load(path: String, source: String = ReferenceTable.source) throws -> [ReferenceResult] {
        let table = try CSVTable(contentsOf: path)
        return try parse(table, source: source)
    }

    public static func parse(_ table: CSVTable, source: String = ReferenceTable.source) throws -> [ReferenceResult] {
        try table.requireRectangular()
        let col = try Dictionary(uniqueKeysWithValues: descriptors.map { ($0, try table.column($0)) })
        let metricColumns = table.header.enumerated().filter { !descriptors.contains($0.element) }
        guard !metricColumns.isEmpty else {
            throw CSVError(source: table.source, line: 1, message: "no metric column (expected for example 'val_top1_percent')")
        }
        let metrics = try metricColumns.map { (index, name) -> (Int, String, String, String) in
            var parts = name.split(separator: "_").map(String.init)
            guard parts.count >= 2, splits.contains(parts[0]) else {
                throw CSVError(source: table.source, line: 1,
                               message: "column '\(name)' is neither a descriptor nor a metric named <train|val|test>_<metric>[_percent]")
            }
            let split = parts.removeFirst()
            var unit = "fraction"
            if parts.last == "percent" { unit = "percent"; parts.removeLast() }
            return (index, split, parts.joined(separator: "_"), unit)
        }
        guard !table.records.isEmpty else {
            throw CSVError(source: table.source, line: nil, message: "has a header but no rows")
        }

        var results: [ReferenceResult] = []
        var seenRows = Set<Int>()
        for record in table.records {
            func text(_ name: String) throws -> String {
                let v = record.fields[col[name]!].trimmingCharacters(in: .whitespaces)
                guard !v.isEmpty else {
                    throw CSVError(source: table.source, line: record.line, message: "column '\(name)' is empty")
                }
                return v
            }
            func positive(_ name: String) throws -> Int {
                let v = try text(name)
                guard let i = Int(v), i > 0 else {
                    throw CSVError(source: table.source, line: record.line,
                                   message: "column '\(name)': '\(v)' is not a positive integer")
                }
                return i
            }
            let row = try positive("row")
            guard seenRows.insert(row).inserted else {
                throw CSVError(source: table.source, line: record.line, message: "row \(row) appears twice")
            }
            let modality = try text("modality").lowercased()
            guard modality == "rgb" || modality == "flow" else {
                throw CSVError(source: table.source, line: record.line,
                               message: "column 'modality': '\(modality)' is neither 'rgb' nor 'flow'")
            }
            for (index, split, metric, unit) in metrics {
                let raw = record.fields[index].trimmingCharacters(in: .whitespaces)
                guard let value = Double(raw), value.isFinite else {
                    throw CSVError(source: table.source, line: record.line,
                                   message: "column '\(table.header[index])': '\(raw)' is not a number")
                }
                if unit == "percent" && !(0...100).contains(value) || unit == "fraction" && !(0...1).contains(value) {
                    throw CSVError(source: table.source, line: record.line,
                                   message: "column '\(table.header[index])': \(raw) is outside the range of a \(unit)")
                }
                results.append(ReferenceResult(
                    source: source, tableRow: row, model: try text("model"), modality: modality,
                    pretraining: try text("pretraining"), resolution: try positive("resolution"),
                    frames: try positive("frames"), skip: try positive("skip"),
                    spatialCrops: try positive("spatial_crops"), temporalClips: try positive("temporal_clips"),
                    split: split, metric: metric, unit: unit, value: value))
            }
        }
        return results
    }
}
