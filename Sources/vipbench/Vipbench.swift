import ArgumentParser

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
}

/// `--db`, shared by every command that reads or writes the results store.
struct StoreOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(
        "The results database (default: $VIPBENCH_DB, else results/vipbench.sqlite).", valueName: "path"))
    var db: String?
}
