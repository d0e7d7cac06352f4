import ArgumentParser
import Foundation
import Distributed
import Harness
#if canImport(Glibc)
import Glibc
#endif

@main
struct Vipbench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vipbench",
        abstract: "Reproduce, measure and guard the Knights VIPriors 2021 action-recognition results.",
        discussion: """
            vipbench runs the configurations of the Knights report's Table 1 (R3D-18/50 with TCLR \
            pretraining, I3D and R3D-18 on TV-L1 flow, MViT-B), records accuracy, throughput and \
            FLOPs per model and test-time view scheme in a SQLite results store, and draws \
            comparison plots with gnuplot.

            The results store is results/vipbench.sqlite unless --db or VIPBENCH_DB says otherwise.
            Numbers that vipbench did not measure itself (the paper's) are labelled as the paper's.
            """,
        version: "0.1.0",
        subcommands: [EnvCommand.self, ReferenceCommand.self, ResultsCommand.self, PlotCommand.self,
                      BenchCommand.self, EvalCommand.self, SubmitCommand.self, ScoreCommand.self,
                      EnsembleCommand.self, VideoCommand.self, DatasetCommand.self, FlowCommand.self, ModelCommand.self, TrainCommand.self, PretrainCommand.self, TestCommand.self, ReproduceCommand.self, CheckCommand.self, DebugCommand.self])

    static func main() {
        tuneNativeLibraries()
        if MPIWorld.launchedByMPI() { Cluster.runUnderMPI(Self.self) }
        Self.main(nil)
    }

    /// OpenBLAS and glibc's malloc read their settings from the environment only when they load,
    /// so when one of `ProcessTuning.settings` is unset the tool sets it and runs itself again.
    /// Measured here: R3D-18 inference 0.72 s per clip instead of 0.82-0.86 (OpenBLAS threads), an
    /// R3D-18 training step at batch 4 2.0 s per clip instead of 2.9 (malloc), GEMM unchanged.
    static func tuneNativeLibraries() {
        let missing = ProcessTuning.missing
        guard !missing.isEmpty else { return }
        for (name, value) in missing { setenv(name, value, 1) }
        setenv(ProcessTuning.markerVariable, missing.map(\.name).joined(separator: ","), 1)
        var cArgs: [UnsafeMutablePointer<CChar>?] = CommandLine.arguments.map { strdup($0) } + [nil]
        execv("/proc/self/exe", &cArgs)
        // execv returned: it failed; go on untuned.
    }
}

/// `--db`, shared by every command that reads or writes the results store.
struct StoreOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(
        "The results database (default: $VIPBENCH_DB, else results/vipbench.sqlite).", valueName: "path"))
    var db: String?
}
