import CSV
import Foundation

/// One cell of a table that can be printed as aligned text, CSV or JSON.
enum Cell {
    case text(String)
    case int(Int)
    case number(Double, digits: Int)
    case bool(Bool)
    case null

    var plain: String {
        switch self {
        case .text(let s): return s
        case .int(let i): return String(i)
        case .number(let d, let digits): return d.isFinite ? String(format: "%.\(digits)f", d) : "undefined"
        case .bool(let b): return b ? "yes" : "no"
        case .null: return ""
        }
    }

    var json: String {
        switch self {
        case .text(let s): return jsonString(s)
        case .int(let i): return String(i)
        case .number(let d, _): return d.isFinite ? "\(d)" : "null"
        case .bool(let b): return b ? "true" : "false"
        case .null: return "null"
        }
    }
}

enum OutputFormat: String, CaseIterable {
    case table, csv, json
}

/// Rows with named columns; rendered for people (aligned table), spreadsheets (CSV) or programs (JSON).
struct Tabular {
    var columns: [String]
    var rows: [[Cell]]

    func render(_ format: OutputFormat) -> String {
        switch format {
        case .table: return table()
        case .csv: return CSVTable.render(header: columns, rows: rows.map { $0.map(\.plain) })
        case .json: return json()
        }
    }

    func table() -> String {
        if rows.isEmpty { return "(none)\n" }
        let cells = [columns] + rows.map { $0.map(\.plain) }
        let widths = columns.indices.map { c in cells.map { $0[c].count }.max() ?? 0 }
        func line(_ r: [String]) -> String {
            r.enumerated().map { i, s in
                i == r.count - 1 ? s : s.padding(toLength: widths[i], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }
        var out = line(columns) + "\n"
        out += widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ") + "\n"
        for r in cells.dropFirst() { out += line(r) + "\n" }
        return out
    }

    func json() -> String {
        let objects = rows.map { row in
            "  {" + zip(columns, row).map { "\(jsonString($0)): \($1.json)" }.joined(separator: ", ") + "}"
        }
        return objects.isEmpty ? "[]\n" : "[\n" + objects.joined(separator: ",\n") + "\n]\n"
    }
}

func jsonString(_ s: String) -> String {
    var out = "\""
    for u in s.unicodeScalars {
        switch u {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        default:
            if u.value < 0x20 { out += String(format: "\\u%04x", u.value) } else { out.unicodeScalars.append(u) }
        }
    }
    return out + "\""
}

/// Messages for people go to stderr, so stdout stays clean for data. Under mpirun only the first
/// rank speaks (the others' errors still reach stderr, with their rank: `Cluster.runUnderMPI`).
func note(_ message: String) {
    guard Cluster.isRoot else { return }
    FileHandle.standardError.write(Data((message + "\n").utf8))
}

/// One JSON object on one line (a command's `--json` result), through the one encoder. Encoding
/// fails only on a non-finite number, which `rounded` turns into null first.
func printJSONLine<T: Encodable>(_ value: T) {
    do { print(try encodeJSON(value, pretty: false)) } catch { note("cannot write the JSON line: \(error)") }
}

/// An optional that encodes as `null` instead of leaving its key out, so every `--json` line of a
/// command has the same keys.
@propertyWrapper
struct Nullable<Value: Encodable>: Encodable {
    var wrappedValue: Value?
    init(wrappedValue: Value?) { self.wrappedValue = wrappedValue }
    func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        if let v = wrappedValue { try c.encode(v) } else { try c.encodeNil() }
    }
}

/// `x` rounded to `digits` decimals for a JSON figure; nil (null) when it is not finite.
func rounded(_ x: Double, _ digits: Int) -> Double? {
    guard x.isFinite else { return nil }
    let scale = pow(10, Double(digits))
    return (x * scale).rounded() / scale
}

func encodeJSON<T: Encodable>(_ value: T, pretty: Bool = true) throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = pretty ? [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
    encoder.keyEncodingStrategy = .convertToSnakeCase
    return String(decoding: try encoder.encode(value), as: UTF8.self)
}
