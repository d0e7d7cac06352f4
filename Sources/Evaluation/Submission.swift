import Foundation

/// The challenge's submission format: one line per video, `videoid c1 c2 c3 c4 c5`, classes
/// 1-indexed, most likely first.
///
/// Parsing follows the organisers' evaluator: a line is split on single spaces; only the first five
/// class tokens count; a token that is not an integer is a miss (kept as nil); extra tokens are
/// ignored; a line with a video id but no classes means no predictions. Where a video appears
/// twice, the first line wins (a warning says so).
public struct Submission: Sendable {
    /// Up to five predictions per video; nil where the token was not an integer.
    public var predictions: [String: [Int?]]
    /// Video ids in file order, first occurrences only.
    public var order: [String]
    public var warnings: [String]
    public var source: String

    public static let maxPredictions = 5

    public init(predictions: [String: [Int?]], order: [String], warnings: [String] = [], source: String = "<submission>") {
        self.predictions = predictions; self.order = order; self.warnings = warnings; self.source = source
    }

    public init(contentsOf path: String) throws {
        guard FileManager.default.fileExists(atPath: path) else {
            throw EvaluationError.file(path, "file not found")
        }
        guard let data = FileManager.default.contents(atPath: path) else { throw EvaluationError.file(path, "cannot be read") }
        guard let text = String(data: data, encoding: .utf8) else { throw EvaluationError.file(path, "is not UTF-8 text") }
        self = Submission.parse(text, source: path)
    }

    public static func parse(_ text: String, source: String) -> Submission {
        var predictions: [String: [Int?]] = [:]
        var order: [String] = []
        var warnings: [String] = []
        var lineNumber = 0
        // Universal newlines, as Python reads the file: "\n", "\r\n" (one Character in Swift) and "\r".
        for line in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" || $0 == "\r" }) {
            lineNumber += 1
            if line.trimmingCharacters(in: .whitespaces).isEmpty { continue }
            let tokens = line.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
            let id = tokens[0]
            if id.isEmpty {
                warnings.append("\(source):\(lineNumber): line starts with a space; ignored"); continue
            }
            if predictions[id] != nil {
                warnings.append("\(source):\(lineNumber): video '\(id)' appears again; the first line wins")
                continue
            }
            let classes = tokens.dropFirst().prefix(maxPredictions).map { Int($0.trimmingCharacters(in: .whitespaces)) }
            if classes.isEmpty {
                warnings.append("\(source):\(lineNumber): video '\(id)' has no predictions; counted as a miss")
            } else if classes.contains(where: { $0 == nil }) {
                warnings.append("\(source):\(lineNumber): video '\(id)' has a token that is not an integer; it counts as a miss")
            }
            predictions[id] = classes
            order.append(id)
        }
        if order.isEmpty { warnings.append("\(source): the submission is empty; every video is a miss") }
        return Submission(predictions: predictions, order: order, warnings: warnings, source: source)
    }

    /// Renders lines `videoid c1 ... c5` (1-indexed classes).
    public static func render(videoIDs: [String], rankedClasses: [[Int]]) -> String {
        zip(videoIDs, rankedClasses).map { id, classes in
            ([id] + classes.prefix(maxPredictions).map(String.init)).joined(separator: " ")
        }.joined(separator: "\n") + (videoIDs.isEmpty ? "" : "\n")
    }
}

public enum EvaluationError: Error, CustomStringConvertible, Equatable {
    /// A problem with a file (and, where known, a row or video in it).
    case file(String, String)
    case invalid(String)

    public var description: String {
        switch self {
        case .file(let path, let message): return "\(path): \(message)"
        case .invalid(let message): return message
        }
    }
}
