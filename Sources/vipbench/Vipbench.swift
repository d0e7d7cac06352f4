import ArgumentParser
import Foundation
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
                      EnsembleCommand.self, VideoCommand.self, DatasetCommand.self, FlowCommand.self, ModelCommand.self, DebugCommand.self])

    static func main() {
        quietOpenBLASThreads()
        Self.main(nil)
    }

    /// OpenBLAS's idle worker threads spin (sched_yield) for about 2^28 cycles after each call
    /// before they sleep, taking a core from the engine's own loops that run between the calls.
    /// OpenBLAS reads OPENBLAS_THREAD_TIMEOUT only when it loads, so when it is unset the tool
    /// sets it to 4 (sleep almost at once) and runs itself again. Measured here: R3D-18
    /// inference 0.72 s instead of 0.82-0.86, MViT-B 2.15 s instead of 2.73-2.79, GEMM unchanged.
    static func quietOpenBLASThreads() {
        guard ProcessInfo.processInfo.environment["OPENBLAS_THREAD_TIMEOUT"] == nil else { return }
        setenv("OPENBLAS_THREAD_TIMEOUT", "4", 1)
        let args = CommandLine.arguments
        var cArgs: [UnsafeMutablePointer<CChar>?] = args.map { strdup($0) } + [nil]
        execv("/proc/self/exe", &cArgs)
        // execv returned: it failed; go on with the spinning threads.
    }
}

/// `--db`, shared by every command that reads or writes the results store.
struct StoreOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(
        "The results database (default: $VIPBENCH_DB, else results/vipbench.sqlite).", valueName: "path"))
    var db: String?
}
