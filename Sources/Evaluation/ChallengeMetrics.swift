/// Accuracy figures of a set of ranked predictions against true classes.
///
/// Three families, each at k = 1, 3, 5:
/// - `official`: the challenge's ranking figure. Mean over classes 1..K-1 (the organisers'
///   evaluator leaves the last class of clsIdx.csv, 400, out both as a true class and as a
///   prediction) of hits / videos of that class. Undefined (nil) when one of those classes has no
///   videos, where the organisers' code yields NaN. Deterministic: every miss counts; the
///   organisers' code replaces a miss whose k-th prediction is outside 1..K-1 by a random class and
///   drops it from its class's denominator when that random class is K, so their figure wobbles
///   slightly between runs.
/// - `allClass`: mean class accuracy over every class (1..K) that has videos.
/// - `video`: plain top-k accuracy over videos.
public struct ChallengeScore: Codable, Equatable, Sendable {
    public struct ClassResult: Codable, Equatable, Sendable {
        /// 1-based class index.
        public var index: Int
        public var name: String
        public var videos: Int
        public var top1Hits: Int
        public var top5Hits: Int
        public var top1: Double? { videos > 0 ? Double(top1Hits) / Double(videos) : nil }
    }

    public static let ks = [1, 3, 5]

    public var videos: Int
    /// Videos with no line (or no predictions) in the submission.
    public var missingPredictions: Int
    public var classCount: Int
    /// Keyed by "top1", "top3", "top5". nil: undefined.
    public var official: [String: Double?]
    public var allClass: [String: Double]
    public var video: [String: Double]
    public var perClass: [ClassResult]
    /// Classes 1..K-1 without videos (these make the official figure undefined).
    public var classesWithoutVideos: [Int]
    public var warnings: [String]

    /// Scores predictions (1-based classes, most likely first; nil = unreadable token) for each video.
    ///
    /// - Parameters:
    ///   - truth: the labelled videos.
    ///   - classes: the class index (its last class is left out of the official figure).
    ///   - predictions: a video's ranked predictions, or nil when it has none.
    public static func compute(truth: LabelledVideos, classes: ClassIndex,
                               predictions: (String) -> [Int?]?, warnings: [String] = []) -> ChallengeScore {
        let K = classes.count
        var videosPerClass = [Int](repeating: 0, count: K + 1)
        var hits = ks.map { _ in [Int](repeating: 0, count: K + 1) }
        var missing = 0
        for (id, c) in zip(truth.videoIDs, truth.classes) {
            videosPerClass[c] += 1
            guard let ranked = predictions(id), !ranked.isEmpty else { missing += 1; continue }
            for (j, k) in ks.enumerated() where ranked.prefix(k).contains(where: { $0 == c }) {
                hits[j][c] += 1
            }
        }
        var official: [String: Double?] = [:], allClass: [String: Double] = [:], video: [String: Double] = [:]
        let withoutVideos = (1..<max(K, 1)).filter { videosPerClass[$0] == 0 }
        for (j, k) in ks.enumerated() {
            let key = "top\(k)"
            if withoutVideos.isEmpty && K > 1 {
                let sum = (1..<K).reduce(0.0) { $0 + Double(hits[j][$1]) / Double(videosPerClass[$1]) }
                official[key] = .some(sum / Double(K - 1))
            } else {
                official[key] = .some(nil)
            }
            let present = (1...max(K, 1)).filter { $0 <= K && videosPerClass[$0] > 0 }
            allClass[key] = present.isEmpty ? 0
                : present.reduce(0.0) { $0 + Double(hits[j][$1]) / Double(videosPerClass[$1]) } / Double(present.count)
            video[key] = truth.videoIDs.isEmpty ? 0 : Double(hits[j].reduce(0, +)) / Double(truth.videoIDs.count)
        }
        var notes = warnings
        if !withoutVideos.isEmpty {
            notes.append("the official figure is undefined: \(withoutVideos.count) of classes 1..\(K - 1) have no videos "
                         + "(first: \(withoutVideos.prefix(5).map { "\($0) '\(classes.names[$0 - 1])'" }.joined(separator: ", ")))")
        }
        let perClass = (1...max(K, 1)).filter { $0 <= K }.map {
            ClassResult(index: $0, name: classes.names[$0 - 1], videos: videosPerClass[$0],
                        top1Hits: hits[0][$0], top5Hits: hits[2][$0])
        }
        return ChallengeScore(videos: truth.videoIDs.count, missingPredictions: missing, classCount: K,
                              official: official, allClass: allClass, video: video, perClass: perClass,
                              classesWithoutVideos: withoutVideos, warnings: notes)
    }

    /// Scores a submission file's predictions.
    public static func compute(truth: LabelledVideos, classes: ClassIndex, submission: Submission) -> ChallengeScore {
        let known = Set(truth.videoIDs)
        let extra = submission.order.filter { !known.contains($0) }
        var warnings = submission.warnings
        if !extra.isEmpty {
            warnings.append("\(submission.source): \(extra.count) video(s) not in \(truth.source) are ignored (first: \(extra[0]))")
        }
        return compute(truth: truth, classes: classes, predictions: { submission.predictions[$0] }, warnings: warnings)
    }
}
