import ArgumentParser
import Evaluation
import Foundation
import Harness
import Plot
import Store

/// Options shared by the commands that turn per-view scores into predictions.
struct ViewOptions: ParsableArguments {
    @Option(help: ArgumentHelp("""
        Which stored views to use, as CROPSxCLIPS (default: all). 1x1 takes the centre crop and \
        the middle clip; 1x10 the centre crop and every clip.
        """, valueName: "SxT"))
    var views: String?

    @Option(help: ArgumentHelp("How to combine views: \(Aggregation.allCases.map(\.rawValue).joined(separator: ", ")).",
                               valueName: "rule"))
    var aggregate: String = Aggregation.meanSoftmax.rawValue

    func selection(for file: ScoresFile) throws -> ViewSelection {
        try views.map { try ViewSelection.parse($0, for: file) } ?? .all(file)
    }

    func aggregation() throws -> Aggregation {
        guard let a = Aggregation(rawValue: aggregate) else {
            throw ValidationError("--aggregate '\(aggregate)' is not one of \(Aggregation.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return a
    }
}

/// Prints a ChallengeScore for people.
func describe(_ s: ChallengeScore, header: String) -> String {
    func pct(_ v: Double?) -> String { v.map { String(format: "%.2f%%", $0 * 100) } ?? "undefined" }
    let rows: [(String, (String) -> Double?)] = [
        ("official (mean class accuracy, classes 1..\(s.classCount - 1))", { s.official[$0] ?? nil }),
        ("all-class (mean class accuracy, classes 1..\(s.classCount))", { s.allClass[$0] }),
        ("accuracy over videos", { s.video[$0] }),
    ]
    let width = rows.map(\.0.count).max()!
    func line(_ label: String, _ cells: [String]) -> String {
        label.padding(toLength: width, withPad: " ", startingAt: 0)
            + cells.map { String(repeating: " ", count: max(0, 11 - $0.count)) + $0 }.joined() + "\n"
    }
    var out = header + "\n"
    out += "videos: \(s.videos)   without predictions: \(s.missingPredictions)   classes: \(s.classCount)\n"
    out += line("", ChallengeScore.ks.map { "top-\($0)" })
    for (label, get) in rows { out += line(label, ChallengeScore.ks.map { pct(get("top\($0)")) }) }
    return out
}

func scoreJSON(_ s: ChallengeScore, extra: [String: String] = [:]) -> String {
    func num(_ v: Double?) -> String { v.map { "\($0)" } ?? "null" }
    func family(_ get: (String) -> Double?) -> String {
        "{" + ChallengeScore.ks.map { "\"top\($0)\": \(num(get("top\($0)")))" }.joined(separator: ", ") + "}"
    }
    var fields = [
        "\"videos\": \(s.videos)", "\"missing_predictions\": \(s.missingPredictions)", "\"classes\": \(s.classCount)",
        "\"official\": " + family { s.official[$0] ?? nil },
        "\"all_class\": " + family { s.allClass[$0] },
        "\"video\": " + family { s.video[$0] },
        "\"official_undefined_classes\": [" + s.classesWithoutVideos.map(String.init).joined(separator: ", ") + "]",
        "\"warnings\": [" + s.warnings.map(jsonString).joined(separator: ", ") + "]",
    ]
    for (k, v) in extra.sorted(by: { $0.key < $1.key }) { fields.append("\(jsonString(k)): \(jsonString(v))") }
    return "{\n  " + fields.joined(separator: ",\n  ") + "\n}"
}

struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Accuracy of a scores file under a view subset and aggregation rule.",
        discussion: """
            Aggregates the chosen views of each video, ranks classes (ties go to the lower class \
            index), and reports top-1/3/5 as the challenge's official figure (mean class accuracy \
            over classes 1..K-1: the last class of clsIdx.csv is left out, as the organisers' \
            evaluator does), the all-class mean class accuracy, and accuracy over videos. \
            vipbench's official figure is deterministic: every miss counts (the organisers' code \
            replaces some misses by random classes, so theirs wobbles slightly).
            """)

    @Option(help: ArgumentHelp("The scores file (safetensors).", valueName: "file"))
    var scores: String

    @OptionGroup var viewOptions: ViewOptions

    @Option(help: ArgumentHelp("Score against this clsIdx.csv (default: the file's own class order).", valueName: "csv"))
    var classes: String?

    @Flag(help: "Print JSON.")
    var json = false

    @Option(help: ArgumentHelp("Write the confusion matrix (CSV, and a heat map for up to 60 classes) into this folder.", valueName: "dir"))
    var confusion: String?

    @Flag(help: "Record the figures in the results store as a run (configuration from the file's metadata).")
    var record = false

    @OptionGroup var store: StoreOptions

    func run() throws {
        let file = try ScoresFile(contentsOf: scores)
        let classIndex = try classes.map { try ClassIndex(contentsOf: $0) }
        let evaluation = try Evaluation(file, views: try viewOptions.selection(for: file),
                                        aggregation: try viewOptions.aggregation(), classes: classIndex)
        let split = file.metadata["split"] ?? "val"
        let rule = file.metadata["sampling_rule"] ?? "unknown"
        for w in evaluation.score.warnings { note("warning: \(w)") }
        if json {
            print(scoreJSON(evaluation.score, extra: ["views": evaluation.views.description,
                                                     "aggregation": evaluation.aggregation.rawValue,
                                                     "sampling_rule": rule, "split": split, "scores": scores]))
        } else {
            print(describe(evaluation.score, header: "\(scores): \(evaluation.views) views, \(evaluation.aggregation.rawValue), sampling \(rule), split \(split)"),
                  terminator: "")
        }
        if let confusion {
            let dir = confusion
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            try evaluation.confusion.csv().write(toFile: dir + "/confusion.csv", atomically: true, encoding: .utf8)
            if file.classCount <= ConfusionMatrix.maxPlottedClasses {
                let title = "\(file.metadata["model"] ?? (scores as NSString).lastPathComponent) — \(split), \(evaluation.views) views, top-1"
                try Gnuplot.render(try evaluation.confusion.figure(title: title), into: dir)
                note("confusion matrix: \(dir)/confusion.png, .svg, .csv")
            } else {
                note("confusion matrix: \(dir)/confusion.csv (\(file.classCount) classes are too many to draw)")
            }
        }
        if record {
            let db = try ResultsStore(path: ResultsStore.resolvePath(store.db))
            let config = file.metadata["configuration"]
                ?? [file.metadata["model"], file.metadata["modality"], file.metadata["clip"]].compactMap { $0 }.joined(separator: "-")
            let seed = file.metadata["seed"].flatMap { Int($0) }
            try withRun(store: db, configuration: "eval:" + (config.isEmpty ? scores : config),
                        profile: file.metadata["profile"] ?? "unknown", seed: seed) { run in
                try db.record(metrics: evaluation.metricRecords(split: split, samplingRule: rule), run: run)
                try db.record(artifacts: [ArtifactRecord(runID: run, path: scores, kind: "scores",
                                                         sha256: try SHA256.hex(fileAt: scores))])
                note("recorded as run \(run) in \(db.path)")
            }
        }
    }
}

struct SubmitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "submit",
        abstract: "Write a submission in the challenge's format (videoid c1 c2 c3 c4 c5) from a scores file.",
        discussion: """
            Classes are 1-indexed in the order of clsIdx.csv: give --classes to map the scores \
            file's class names onto it (an unknown name is an error); without it the file's own \
            class order is used.
            """)

    @Option(help: ArgumentHelp("The scores file (safetensors).", valueName: "file"))
    var scores: String

    @Option(help: ArgumentHelp("The submission file to write.", valueName: "path"))
    var out: String

    @OptionGroup var viewOptions: ViewOptions

    @Option(help: ArgumentHelp("clsIdx.csv giving the official class numbers.", valueName: "csv"))
    var classes: String?

    func run() throws {
        let file = try ScoresFile(contentsOf: scores)
        let mapping = try classes.map { try file.classMapping(to: try ClassIndex(contentsOf: $0)) }
            ?? Array(1...file.classCount)
        let agg = try Aggregate.scores(file, views: try viewOptions.selection(for: file), by: try viewOptions.aggregation())
        let ranked = Aggregate.ranked(agg, classes: file.classCount, k: Submission.maxPredictions)
            .map { $0.map { mapping[$0] } }
        try Submission.render(videoIDs: file.videoIDs, rankedClasses: ranked).write(toFile: out, atomically: true, encoding: .utf8)
        note("wrote \(file.videoCount) lines to \(out)")
    }
}

struct ScoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "score",
        abstract: "Score a submission file against the challenge's annotation files, as the organisers do.",
        discussion: """
            ANNOTATIONS is a folder with clsIdx.csv and the split's CSV (for example \
            kinetics400ViPriors-val.csv). Only the first five classes of a line count; a token \
            that is not an integer is a miss; a video without a line is a miss; a repeated video \
            keeps its first line. Prints the official top-1/3/5 (classes 1..399, deterministic) and \
            the all-class figures, labelled.
            """)

    @Option(help: ArgumentHelp("The submission file.", valueName: "file"))
    var submission: String

    @Option(help: ArgumentHelp("The folder of annotation files.", valueName: "dir"))
    var annotations: String

    @Option(help: "Which split's CSV to score against.")
    var split: String = "val"

    @Option(help: ArgumentHelp("A list of corrupt videos to leave out of the ground truth and the submission (the organisers' -corr).", valueName: "file"))
    var corrupted: String?

    @Flag(help: "Print JSON.")
    var json = false

    func run() throws {
        let (classesPath, labelsPath) = try locateAnnotations(directory: annotations, split: split)
        let classes = try ClassIndex(contentsOf: classesPath)
        var truth = try LabelledVideos(contentsOf: labelsPath, classes: classes)
        var sub = try Submission(contentsOf: submission)
        if let corrupted {
            let ids = try readCorruptVideoList(corrupted)
            truth = truth.excluding(ids)
            for id in ids { sub.predictions.removeValue(forKey: id) }
            sub.order.removeAll { ids.contains($0) }
        }
        let score = ChallengeScore.compute(truth: truth, classes: classes, submission: sub)
        for w in score.warnings.prefix(20) { note("warning: \(w)") }
        if score.warnings.count > 20 { note("warning: ... and \(score.warnings.count - 20) more") }
        if json {
            print(scoreJSON(score, extra: ["submission": submission, "annotations": labelsPath]))
        } else {
            print(describe(score, header: "\(submission) against \(labelsPath)"), terminator: "")
        }
    }
}

struct EnsembleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ensemble",
        abstract: "Fuse several models' scores on the same videos into one scores file.",
        discussion: """
            Each file is first aggregated over all its views (mean softmax for --space \
            probabilities, mean logits for --space logits), then the files are summed with \
            weights. Give --weights, or --search-on with one validation scores file per model (same \
            order) to pick weights by coordinate ascent on the official top-1, then apply them to \
            the --scores files. The output holds one view per video.
            """)

    @Option(parsing: .upToNextOption, help: ArgumentHelp("The scores files to fuse.", valueName: "file"))
    var scores: [String]

    @Option(parsing: .upToNextOption, help: ArgumentHelp("One weight per file (default: equal).", valueName: "w"))
    var weights: [Double] = []

    @Option(name: .customLong("search-on"), parsing: .upToNextOption,
            help: ArgumentHelp("Validation scores files, one per model, to search the weights on.", valueName: "file"))
    var searchOn: [String] = []

    @Option(help: "Fuse probabilities or logits.")
    var space: String = Ensemble.Space.probabilities.rawValue

    @Option(help: ArgumentHelp("The fused scores file to write.", valueName: "path"))
    var out: String

    @Flag(help: "Print the chosen weights (and search result) as JSON.")
    var json = false

    func validate() throws {
        guard !scores.isEmpty else { throw ValidationError("give at least one file with --scores") }
        guard weights.isEmpty || weights.count == scores.count else {
            throw ValidationError("--weights has \(weights.count) values for \(scores.count) scores files")
        }
        guard weights.isEmpty || searchOn.isEmpty else { throw ValidationError("give --weights or --search-on, not both") }
        guard searchOn.isEmpty || searchOn.count == scores.count else {
            throw ValidationError("--search-on has \(searchOn.count) files for \(scores.count) scores files")
        }
        guard Ensemble.Space(rawValue: space) != nil else { throw ValidationError("--space is 'probabilities' or 'logits'") }
    }

    func run() throws {
        let space = Ensemble.Space(rawValue: self.space)!
        let files = try scores.map { try ScoresFile(contentsOf: $0) }
        var chosen = weights.isEmpty ? [Double](repeating: 1, count: files.count) : weights
        var searched: Double?
        if !searchOn.isEmpty {
            let val = try searchOn.map { try ScoresFile(contentsOf: $0) }
            let models = try Ensemble.perModel(val, space: space)
            let first = val[0]
            let classes = ClassIndex(names: first.classNames, source: first.source)
            let truth = try first.labelledVideos(classes: classes)
            let K = first.classCount
            let result = Ensemble.searchWeights(models) { fused in
                var ranked: [String: [Int?]] = [:]
                for (v, id) in first.videoIDs.enumerated() {
                    ranked[id] = Aggregate.topK(fused[(v * K)..<((v + 1) * K)], 1).map { $0 + 1 }
                }
                let s = ChallengeScore.compute(truth: truth, classes: classes, predictions: { ranked[$0] })
                return (s.official["top1"] ?? nil) ?? s.allClass["top1"] ?? 0
            }
            chosen = result.weights
            searched = result.value
            note("searched weights on \(searchOn.joined(separator: ", ")): \(chosen) (official top-1 \(String(format: "%.4f", result.value)))")
        }
        let fused = Ensemble.fuse(try Ensemble.perModel(files, space: space), weights: chosen)
        try Ensemble.output(fused, like: files[0], space: space, weights: chosen, sources: scores).write(to: out)
        if json {
            struct Line: Encodable {
                var weights: [Double], space: String
                @Nullable var searchTop1: Double?
                var out: String
            }
            printJSONLine(Line(weights: chosen, space: space.rawValue, searchTop1: searched, out: out))
        } else {
            note("wrote \(out): \(files[0].videoCount) videos, weights \(chosen), \(space.rawValue)")
        }
    }
}
