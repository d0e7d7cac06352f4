import Store

/// Scores file -> figures: aggregate the chosen views, rank, and score against the file's labels.
public struct Evaluation: Sendable {
    public var views: ViewSelection
    public var aggregation: Aggregation
    public var score: ChallengeScore
    /// Top-5 1-based predictions per labelled video, and the confusion matrix of top-1.
    public var confusion: ConfusionMatrix

    /// - Parameter classes: the class index to score against; by default the file's own class
    ///   names in order (so its last class is the one the official figure leaves out).
    public init(_ file: ScoresFile, views: ViewSelection, aggregation: Aggregation, classes: ClassIndex? = nil) throws {
        let classes = classes ?? ClassIndex(names: file.classNames, source: file.source)
        let mapping = try file.classMapping(to: classes)
        let truth = try file.labelledVideos(classes: classes)
        guard !truth.videoIDs.isEmpty else {
            throw EvaluationError.file(file.source, "has no labelled videos to evaluate (a test split?); use `vipbench submit`")
        }
        let agg = try Aggregate.scores(file, views: views, by: aggregation)
        let K = file.classCount
        var ranked: [String: [Int?]] = [:]
        var truth0: [Int] = [], predicted0: [Int] = []
        for (v, id) in file.videoIDs.enumerated() {
            let top = Aggregate.topK(agg[(v * K)..<((v + 1) * K)], min(Submission.maxPredictions, K))
            ranked[id] = top.map { mapping[$0] }
            if let label = file.labels[v] { truth0.append(label); predicted0.append(top[0]) }
        }
        self.views = views
        self.aggregation = aggregation
        score = ChallengeScore.compute(truth: truth, classes: classes, predictions: { ranked[$0] })
        confusion = ConfusionMatrix(classNames: file.classNames, truth: truth0, predicted: predicted0)
    }

    /// The figures as store records: top-1/3/5 in the `official`, `all-class` and `video` variants.
    public func metricRecords(split: String, samplingRule: String) -> [MetricRecord] {
        ChallengeScore.ks.flatMap { k -> [MetricRecord] in
            let key = "top\(k)"
            func record(_ variant: String, _ value: Double?) -> MetricRecord {
                MetricRecord(split: split, spatialCrops: views.crops.count, temporalClips: views.clips.count,
                             samplingRule: samplingRule, aggregation: aggregation.rawValue,
                             metric: key, variant: variant, value: value)
            }
            return [record("official", score.official[key] ?? nil), record("all-class", score.allClass[key]),
                    record("video", score.video[key])]
        }
    }
}
