import Foundation

/// Tests/Fixtures, found from this file's own path (so tests run from any working directory).
public let fixturesRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures").path

/// A committed fixture under Tests/Fixtures: its path, or (when it is not there) an error naming
/// the path, so that a missing fixture fails the test instead of skipping it.
public func requireFixture(_ path: String) throws -> String {
    guard FileManager.default.fileExists(atPath: path) else { throw MissingFixture(path: path) }
    return path
}

public struct MissingFixture: Error, CustomStringConvertible {
    public let path: String
    public var description: String { "missing test fixture \(path) (it is committed under Tests/Fixtures)" }
}
