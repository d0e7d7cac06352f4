import CSQLite
import Foundation

/// A value bound to or read from SQLite.
public enum SQLValue: Equatable, Sendable, CustomStringConvertible {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)

    public var description: String {
        switch self {
        case .null: return ""
        case .integer(let v): return String(v)
        case .real(let v): return String(v)
        case .text(let v): return v
        }
    }

    public var int: Int? { if case .integer(let v) = self { return Int(v) }; return nil }
    public var double: Double? {
        switch self {
        case .integer(let v): return Double(v)
        case .real(let v): return v
        default: return nil
        }
    }
    public var string: String? { if case .text(let v) = self { return v }; return nil }
}

extension SQLValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral {
    public init(stringLiteral value: String) { self = .text(value) }
    public init(integerLiteral value: Int64) { self = .integer(value) }
    public init(floatLiteral value: Double) { self = .real(value) }
    public init(_ v: Int) { self = .integer(Int64(v)) }
    public init(_ v: Int?) { self = v.map { .integer(Int64($0)) } ?? .null }
    public init(_ v: Double?) { self = v.map { .real($0) } ?? .null }
    public init(_ v: String?) { self = v.map { .text($0) } ?? .null }
    public init(_ v: Bool) { self = .integer(v ? 1 : 0) }
}

/// One result row: column names in order, and the values.
public struct SQLRow: Sendable {
    public var columns: [String]
    public var values: [SQLValue]

    public subscript(_ name: String) -> SQLValue {
        guard let i = columns.firstIndex(of: name) else { return .null }
        return values[i]
    }
}

/// What went wrong in the store, always naming the database file.
public enum StoreError: Error, CustomStringConvertible, Equatable {
    case notADatabase(path: String, detail: String)
    case newerSchema(path: String, found: Int, supported: Int)
    case sqlite(path: String, code: Int32, message: String, sql: String?)
    case invalid(path: String, message: String)

    public var description: String {
        switch self {
        case .notADatabase(let path, let detail):
            return "\(path) is not a vipbench results database (\(detail)); it was left untouched. "
                + "Pass another file with --db or VIPBENCH_DB, or move this one away."
        case .newerSchema(let path, let found, let supported):
            return "\(path) has schema version \(found), newer than this vipbench supports (\(supported)); "
                + "it was left untouched. Use a newer vipbench, or another file with --db."
        case .sqlite(let path, let code, let message, let sql):
            var s = "\(path): SQLite error \(code): \(message)"
            if let sql { s += " (in: \(sql.split(separator: "\n").first ?? ""))" }
            return s
        case .invalid(let path, let message):
            return "\(path): \(message)"
        }
    }
}

/// A thin, synchronous layer over one SQLite connection (the C API; see README for why not GRDB).
///
/// Writes go through `transaction`, which takes the write lock up front (`BEGIN IMMEDIATE`) so that
/// two processes never deadlock upgrading read locks; the busy timeout makes a second writer wait.
public final class SQLiteDatabase {
    public let path: String
    let handle: OpaquePointer

    /// The 16-byte header every SQLite 3 database file starts with.
    static let magic = Array("SQLite format 3\u{0}".utf8)

    /// Opens (creating if absent) a database file. An existing file that is not SQLite is refused
    /// before SQLite touches it.
    public init(path: String, readOnly: Bool = false, busyTimeoutMilliseconds: Int32 = 60_000) throws {
        self.path = path
        try SQLiteDatabase.checkHeader(path: path)
        if !readOnly {
            let dir = (path as NSString).deletingLastPathComponent
            if !dir.isEmpty && !FileManager.default.fileExists(atPath: dir) {
                try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            }
        }
        var db: OpaquePointer?
        let flags = readOnly ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE)
        let rc = sqlite3_open_v2(path, &db, flags | SQLITE_OPEN_NOMUTEX, nil)
        guard rc == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "cannot open"
            if let db { sqlite3_close(db) }
            throw StoreError.sqlite(path: path, code: rc, message: message, sql: nil)
        }
        handle = db
        sqlite3_busy_timeout(db, busyTimeoutMilliseconds)
        sqlite3_extended_result_codes(db, 1)
    }

    deinit { sqlite3_close_v2(handle) }

    /// Refuses a non-empty file whose first bytes are not SQLite's header.
    static func checkHeader(path: String) throws {
        guard let fh = FileHandle(forReadingAtPath: path) else { return }  // absent: will be created
        defer { try? fh.close() }
        let head = [UInt8](fh.readData(ofLength: 16))
        if head.isEmpty { return }  // an empty file is an empty database
        if head != magic {
            throw StoreError.notADatabase(path: path, detail: "its first bytes are not the SQLite header")
        }
    }

    func error(_ rc: Int32, _ sql: String?) -> StoreError {
        let message = String(cString: sqlite3_errmsg(handle))
        let primary = rc & 0xff
        if primary == SQLITE_NOTADB || primary == SQLITE_CORRUPT {
            return .notADatabase(path: path, detail: "SQLite says: \(message)")
        }
        return .sqlite(path: path, code: rc, message: message, sql: sql)
    }

    /// Runs one or more statements without bindings or results.
    public func execute(_ sql: String) throws {
        var errmsg: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(handle, sql, nil, nil, &errmsg)
        if rc != SQLITE_OK {
            let e = error(rc, sql)
            sqlite3_free(errmsg)
            throw e
        }
    }

    /// Runs one statement with bindings and returns its rows.
    @discardableResult
    public func query(_ sql: String, _ bindings: [SQLValue] = []) throws -> [SQLRow] {
        var stmt: OpaquePointer?
        var rc = sqlite3_prepare_v2(handle, sql, -1, &stmt, nil)
        guard rc == SQLITE_OK, let stmt else { throw error(rc, sql) }
        defer { sqlite3_finalize(stmt) }
        for (i, value) in bindings.enumerated() {
            let index = Int32(i + 1)
            switch value {
            case .null: rc = sqlite3_bind_null(stmt, index)
            case .integer(let v): rc = sqlite3_bind_int64(stmt, index, v)
            case .real(let v): rc = sqlite3_bind_double(stmt, index, v)
            case .text(let v): rc = sqlite3_bind_text(stmt, index, v, -1, vip_sqlite_transient())
            }
            guard rc == SQLITE_OK else { throw error(rc, sql) }
        }
        let columnCount = sqlite3_column_count(stmt)
        let columns = (0..<columnCount).map { String(cString: sqlite3_column_name(stmt, $0)) }
        var rows: [SQLRow] = []
        while true {
            rc = sqlite3_step(stmt)
            if rc == SQLITE_DONE { break }
            guard rc == SQLITE_ROW else { throw error(rc, sql) }
            var values: [SQLValue] = []
            values.reserveCapacity(Int(columnCount))
            for c in 0..<columnCount {
                switch sqlite3_column_type(stmt, c) {
                case SQLITE_INTEGER: values.append(.integer(sqlite3_column_int64(stmt, c)))
                case SQLITE_FLOAT: values.append(.real(sqlite3_column_double(stmt, c)))
                case SQLITE_NULL: values.append(.null)
                default:
                    if let t = sqlite3_column_text(stmt, c) {
                        values.append(.text(String(cString: t)))
                    } else {
                        values.append(.null)
                    }
                }
            }
            rows.append(SQLRow(columns: columns, values: values))
        }
        return rows
    }

    /// The rowid of the last successful INSERT on this connection.
    public var lastInsertRowID: Int64 { sqlite3_last_insert_rowid(handle) }

    /// Runs `body` as one write transaction: all of it lands, or none of it.
    @discardableResult
    public func transaction<T>(_ body: () throws -> T) throws -> T {
        try execute("BEGIN IMMEDIATE")
        do {
            let result = try body()
            try execute("COMMIT")
            return result
        } catch {
            try? execute("ROLLBACK")
            throw error
        }
    }

    /// The library version, for example "3.40.1".
    public static var libraryVersion: String { String(cString: sqlite3_libversion()) }
}
