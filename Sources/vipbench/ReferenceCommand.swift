import ArgumentParser
import Harness
import Store

struct ReferenceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reference",
        abstract: "Manage the published reference numbers (the report's Table 1).",
        subcommands: [Import.self])

    struct Import: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Import Table 1's reference numbers from a CSV file into the results store.",
            discussion: """
                The CSV has the columns row, model, modality, pretraining, resolution, frames, skip, \
                spatial_crops, temporal_clips and one or more metric columns named \
                <split>_<metric>[_percent], for example val_top1_percent. Importing the same file \
                again changes nothing; a changed value is updated in place.
                """)

        @Argument(help: ArgumentHelp("The CSV file.", valueName: "csv"))
        var csv: String = ReferenceTable.defaultPath

        @Option(help: "The source label stored with each number.")
        var source: String = ReferenceTable.source

        @OptionGroup var store: StoreOptions

        func run() throws {
            let rows = try ReferenceTable.load(path: csv, source: source)
            let db = try ResultsStore(path: ResultsStore.resolvePath(store.db))
            let s = try db.importReference(rows)
            note("imported \(rows.count) reference numbers from \(csv) into \(db.path): "
                 + "\(s.inserted) new, \(s.updated) updated, \(s.unchanged) unchanged")
        }
    }
}
