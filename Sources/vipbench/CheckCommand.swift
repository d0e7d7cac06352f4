import ArgumentParser
import Experiments
import Foundation
import Store

struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "The accuracy-regression gate: the latest recorded figure of each Table 1 row against a committed baseline.",
        discussion: """
            A row's figure is the mean over seeds of the latest finished runs named \
            table1:<profile>:<row> in the store (validation top-1 under the baseline's views). The \
            command exits 1 naming every row that dropped by more than its tolerance (or has no \
            result), 0 otherwise. --update writes the recorded figures into the baseline, with \
            tolerances from the measured seed spread, and shows the change; with --profile it \
            creates the baseline when the file does not exist yet (every row at its own views, \
            and the ensemble).
            """)

    @Option(help: ArgumentHelp("The baseline (results/baselines/<profile>.json).", valueName: "file")) var baseline: String
    @Option(help: "One tolerance (fraction, 0.05 = 5 points) for every row instead of the baseline's own.") var tolerance: Double?
    @Flag(help: "Write the recorded figures into the baseline (shows old -> new).") var update = false
    @Option(help: "With --update: the profile of a baseline to create when the file does not exist (paper, mini or smoke).") var profile: Profile?
    @Option(name: .customLong("validation-videos"), help: "With --update: the validation set's size; a row's noise is then at least the binomial spread of a top-1 over that many videos (a few seeds can agree by chance).")
    var validationVideos: Int?
    @Flag(help: "Print JSON.") var json = false
    @OptionGroup var store: StoreOptions

    func run() throws {
        let b: Baseline
        if update, let profile, !FileManager.default.fileExists(atPath: baseline) {
            b = Baseline.empty(profile)
            note("creating \(baseline) for the \(profile.rawValue) profile")
        } else {
            b = try Baseline.read(baseline)
            if let profile, profile.rawValue != b.profile {
                throw ValidationError("\(baseline) is the \(b.profile) profile's baseline, not \(profile.rawValue)'s")
            }
        }
        let db = try ResultsStore(path: ResultsStore.resolvePath(store.db))
        let measured = try Gate.measure(b, store: db)
        if update {
            let u = Gate.updated(b, measured: measured, validationVideos: validationVideos)
            for (old, new) in zip(b.entries, u.entries) where old != new {
                print(String(format: "%@: %.1f %% (tolerance %.1f) -> %.1f %% (tolerance %.1f, %d seeds)", old.key,
                             100 * old.value, 100 * old.tolerance, 100 * new.value, 100 * new.tolerance, new.seeds))
            }
            try u.write(baseline)
            note("wrote \(baseline)")
            return
        }
        let v = Gate.check(b, measured: measured, tolerance: tolerance)
        if json {
            struct Row: Encodable { var key: String; var baseline: Double; var measured: Double?; var seeds: [Int]; var tolerance: Double; var failed: Bool; var reason: String }
            print(try encodeJSON(v.lines.map { Row(key: $0.key, baseline: $0.baseline, measured: $0.measured?.mean, seeds: $0.measured?.seeds ?? [],
                                                   tolerance: $0.tolerance, failed: $0.failed, reason: $0.reason) }))
        } else {
            let t = Tabular(columns: ["row", "baseline %", "measured %", "seeds", "tolerance", "verdict"], rows: v.lines.map { l in
                [.text(l.key), .number(100 * l.baseline, digits: 1), l.measured.map { .number(100 * $0.mean, digits: 1) } ?? .null,
                 .int(l.measured?.seeds.count ?? 0), .number(100 * l.tolerance, digits: 1), .text((l.failed ? "FAIL: " : "ok: ") + l.reason)]
            })
            print(t.render(.table), terminator: "")
        }
        if !v.failed.isEmpty {
            note("accuracy regression in \(v.failed.map { "\($0.key) (\($0.reason))" }.joined(separator: ", ")) against \(baseline)")
            throw ExitCode.failure
        }
    }
}
