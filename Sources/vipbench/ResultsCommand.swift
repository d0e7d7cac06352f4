import ArgumentParser
import Foundation
import Store

struct ResultsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "results",
        abstract: "Print what the results store holds.",
        discussion: """
            Choose one section: --reference (published numbers, the default), --runs (every run with \
            its commit, host and status; a run whose process died shows as 'interrupted'), \
            --metrics (accuracy per run, split, view scheme and sampling rule), --performance \
            (speed, memory and cost per network shape; the runner's cost stage marks each with \
            the size it measures: paper or a scaled profile), --curves (training curves, one row \
            per epoch of each run's pretraining and training), or --benchmarks.
            """)

    enum Section: String, EnumerableFlag {
        case reference, runs, metrics, performance, curves, benchmarks
    }

    @Flag(help: "Which table to print.")
    var section: Section = .reference

    @Option(help: ArgumentHelp("Output format: table, csv or json.", valueName: "format"))
    var format: OutputFormatArgument = .init(.table)

    @OptionGroup var store: StoreOptions

    func run() throws {
        let path = ResultsStore.resolvePath(store.db)
        guard FileManager.default.fileExists(atPath: path) else {
            throw ValidationError("no results store at \(path); run `vipbench reference import` or `make run` first")
        }
        let db = try ResultsStore(path: path)
        let tabular: Tabular
        switch section {
        case .reference:
            tabular = Tabular(
                columns: ["source", "row", "model", "modality", "pretraining", "resolution", "clip", "views",
                          "split", "metric", "unit", "value"],
                rows: try db.referenceResults().map { r in
                    [.text(r.source), .int(r.tableRow), .text(r.model), .text(r.modality), .text(r.pretraining),
                     .int(r.resolution), .text(r.clip), .text(r.views), .text(r.split), .text(r.metric),
                     .text(r.unit), .number(r.value, digits: 1)]
                })
        case .runs:
            tabular = Tabular(
                columns: ["id", "configuration", "profile", "seed", "status", "started_at", "ended_at",
                          "git_commit", "git_dirty", "host", "cpu", "blas_threads", "swift", "command_line"],
                rows: try db.runs().map { r in
                    [.int(Int(r.id)), .text(r.configuration), .text(r.profile), r.seed.map(Cell.int) ?? .null,
                     .text(r.displayStatus), .text(r.startedAt), r.endedAt.map(Cell.text) ?? .null,
                     r.provenance.gitCommit.map { .text(String($0.prefix(12))) } ?? .null,
                     r.provenance.gitDirty.map(Cell.bool) ?? .null, .text(r.provenance.host),
                     .text(r.provenance.cpu), .int(r.provenance.blasThreads), .text(r.provenance.swiftVersion),
                     .text(r.provenance.commandLine)]
                })
        case .metrics:
            tabular = Tabular(
                columns: ["run", "split", "views", "sampling_rule", "aggregation", "metric", "variant", "value"],
                rows: try db.metrics().map { m in
                    [.int(Int(m.runID ?? 0)), .text(m.split), .text("\(m.spatialCrops)x\(m.temporalClips)"),
                     .text(m.samplingRule), .text(m.aggregation), .text(m.metric), .text(m.variant),
                     m.value.map { .number($0, digits: 4) } ?? .null]
                })
        case .performance:
            tabular = Tabular(
                columns: ["run", "model", "mode", "input", "width", "scale", "batch", "gmacs_per_view", "parameters",
                          "clips_per_second", "latency_s", "peak_rss_mb", "threads"],
                rows: try db.performance().map { p in
                    [.int(Int(p.runID ?? 0)), .text(p.model), .text(p.mode), .text(p.inputShape),
                     .number(p.width ?? 1, digits: 4), p.scale.map(Cell.text) ?? .null, .int(p.batch),
                     p.gmacsPerView.map { .number($0, digits: 3) } ?? .null, p.parameters.map(Cell.int) ?? .null,
                     p.clipsPerSecond.map { .number($0, digits: 3) } ?? .null,
                     p.latencySeconds.map { .number($0, digits: 4) } ?? .null,
                     p.peakRSSBytes.map { .number(Double($0) / 1_048_576, digits: 1) } ?? .null,
                     p.threads.map(Cell.int) ?? .null]
                })
        case .curves:
            tabular = Tabular(
                columns: ["run", "stage", "epoch", "step", "train_loss", "lr", "clips_per_second", "seconds",
                          "val_top1", "val_top5", "val_loss"],
                rows: try db.epochs().map { e in
                    func n(_ v: Double?, _ d: Int) -> Cell { v.map { .number($0, digits: d) } ?? .null }
                    return [.int(Int(e.runID ?? 0)), .text(e.stage), .int(e.epoch), .int(e.step), n(e.trainLoss, 4),
                            n(e.lr, 6), n(e.clipsPerSecond, 1), n(e.seconds, 2), n(e.valTop1, 4), n(e.valTop5, 4), n(e.valLoss, 4)]
                })
        case .benchmarks:
            tabular = Tabular(
                columns: ["run", "name", "threads", "value", "unit", "baseline", "ratio"],
                rows: try db.benchmarks().map { b in
                    [.int(Int(b.runID ?? 0)), .text(b.name), b.threads.map(Cell.int) ?? .null,
                     .number(b.value, digits: 2), .text(b.unit), b.baseline.map(Cell.text) ?? .null,
                     b.ratio.map { .number($0, digits: 3) } ?? .null]
                })
        }
        print(tabular.render(format.value), terminator: "")
    }
}

/// `--format` with a message that lists the choices.
struct OutputFormatArgument: ExpressibleByArgument {
    var value: OutputFormat
    init(_ value: OutputFormat) { self.value = value }
    init?(argument: String) {
        guard let v = OutputFormat(rawValue: argument.lowercased()) else { return nil }
        value = v
    }
    var defaultValueDescription: String { value.rawValue }
    static var allValueStrings: [String] { OutputFormat.allCases.map(\.rawValue) }
}
