import ArgumentParser
import Foundation
import Harness
import Plot
import Store

struct PlotCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plot",
        abstract: "Draw the comparison plots (PNG and SVG) with gnuplot.",
        discussion: """
            Writes, for each plot, NAME.png, NAME.svg, the data NAME.dat and the gnuplot script \
            NAME.gp into the output folder, so a plot can be re-rendered or restyled with \
            `cd OUT && gnuplot NAME.gp`. Plots so far: table1 (Table 1 validation top-1 per row, \
            the paper's numbers). Needs gnuplot (Debian: gnuplot-nox); VIPBENCH_GNUPLOT names \
            another program.
            """)

    @Option(help: ArgumentHelp("Output folder.", valueName: "dir"))
    var out: String = "results/plots"

    @OptionGroup var store: StoreOptions

    func run() throws {
        let path = ResultsStore.resolvePath(store.db)
        guard FileManager.default.fileExists(atPath: path) else {
            throw ValidationError("no results store at \(path); run `vipbench reference import` first")
        }
        let db = try ResultsStore(path: path)
        let figure = try Table1Plot.figure(references: try db.referenceResults())
        _ = try Gnuplot.locate()  // fail before recording a run when gnuplot is missing
        let files = try withRun(store: db, configuration: "plot:\(figure.name)", profile: "reference") { run in
            let files = try Gnuplot.render(figure, into: out)
            try db.record(artifacts: try files.map { file in
                let ext = (file as NSString).pathExtension
                let kind = ext == "dat" ? "plot-data" : ext == "gp" ? "plot-script" : "plot"
                return ArtifactRecord(runID: run, path: file, kind: kind, sha256: try SHA256.hex(fileAt: file))
            })
            return files
        }
        for f in files { print(f) }
    }
}
