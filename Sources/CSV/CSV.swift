import Foundation

/// A parsed CSV file: RFC 4180 (quoted fields, doubled quotes, CRLF or LF, an optional UTF-8 BOM).
///
/// Every record remembers the line it started on, so errors can name the file and line at fault.
public struct CSVTable: Sendable {
    public struct Record: Sendable {
        /// 1-based line number of the record's first character in the file.
        public var line: Int
        public var fields: [String]
    }

    /// The file the table came from (or a label such as "<stdin>").
    public var source: String
    public var header: [String]
    public var records: [Record]

    /// Reads and parses a file whose first record is the header.
    public init(contentsOf path: String) throws {
        guard FileManager.default.fileExists(atPath: path) else {
            throw CSVError(source: path, line: nil, message: "file not found")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CSVError(source: path, line: nil, message: "cannot be read")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw CSVError(source: path, line: nil, message: "is not UTF-8 text")
        }
        try self.init(text: text, source: path)
    }

    /// Parses text whose first record is the header.
    public init(text: String, source: String) throws {
        let all = try CSVTable.parse(text, source: source)
        guard let first = all.first else {
            throw CSVError(source: source, line: nil, message: "is empty (expected a header line)")
        }
        self.source = source
        self.header = first.fields.map { $0.trimmingCharacters(in: .whitespaces) }
        self.records = Array(all.dropFirst())
    }

    /// The index of a header column, or an error naming the missing column and the header found.
    public func column(_ name: String) throws -> Int {
        guard let i = header.firstIndex(of: name) else {
            throw CSVError(source: source, line: 1,
                           message: "missing column '\(name)' (header: \(header.joined(separator: ",")))")
        }
        return i
    }

    /// Checks that every record has as many fields as the header.
    public func requireRectangular() throws {
        for r in records where r.fields.count != header.count {
            throw CSVError(source: source, line: r.line,
                           message: "has \(r.fields.count) fields, the header has \(header.count)")
        }
    }

    /// Splits text into records. Blank lines are skipped.
    public static func parse(_ text: String, source: String) throws -> [Record] {
        var records: [Record] = []
        var fields: [String] = []
        var field: [UInt8] = []
        var inQuotes = false
        var fieldWasQuoted = false
        var line = 1
        var recordLine = 1
        var bytes = Array(text.utf8)
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes.removeFirst(3) }

        func endField() {
            fields.append(String(decoding: field, as: UTF8.self))
            field.removeAll(keepingCapacity: true)
            fieldWasQuoted = false
        }
        func endRecord() {
            endField()
            if !(fields.count == 1 && fields[0].isEmpty) {
                records.append(Record(line: recordLine, fields: fields))
            }
            fields.removeAll(keepingCapacity: true)
        }

        var i = 0
        while i < bytes.count {
            let b = bytes[i]
            if inQuotes {
                if b == UInt8(ascii: "\"") {
                    if i + 1 < bytes.count && bytes[i + 1] == UInt8(ascii: "\"") {
                        field.append(b); i += 1
                    } else {
                        inQuotes = false
                    }
                } else {
                    if b == UInt8(ascii: "\n") { line += 1 }
                    field.append(b)
                }
            } else {
                switch b {
                case UInt8(ascii: "\""):
                    if field.isEmpty && !fieldWasQuoted {
                        inQuotes = true; fieldWasQuoted = true
                    } else {
                        throw CSVError(source: source, line: line, message: "stray quote inside an unquoted field")
                    }
                case UInt8(ascii: ","):
                    endField()
                case UInt8(ascii: "\r"):
                    break
                case UInt8(ascii: "\n"):
                    endRecord(); line += 1; recordLine = line
                default:
                    if fieldWasQuoted {
                        throw CSVError(source: source, line: line, message: "text after a closing quote")
                    }
                    field.append(b)
                }
            }
            i += 1
        }
        if inQuotes {
            throw CSVError(source: source, line: recordLine, message: "unterminated quoted field")
        }
        if !field.isEmpty || !fields.isEmpty || fieldWasQuoted { endRecord() }
        return records
    }

    /// Quotes a field when it needs it (comma, quote, newline, leading or trailing space).
    public static func escape(_ field: String) -> String {
        let needs = field.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" })
            || field.first == " " || field.last == " "
        guard needs else { return field }
        return "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// Renders rows as CSV text, header first, LF line ends.
    public static func render(header: [String], rows: [[String]]) -> String {
        var out = header.map(escape).joined(separator: ",") + "\n"
        for row in rows { out += row.map(escape).joined(separator: ",") + "\n" }
        return out
    }
}

/// A CSV problem, naming the file and (where known) the line.
public struct CSVError: Error, CustomStringConvertible, Equatable {
    public var source: String
    public var line: Int?
    public var message: String

    public init(source: String, line: Int?, message: String) {
        self.source = source; self.line = line; self.message = message
    }

    public var description: String {
        if let line { return "\(source):\(line): \(message)" }
        return "\(source): \(message)"
    }
}
