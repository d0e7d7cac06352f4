import ArgumentParser
import Engine
import Foundation
import Harness
import Store
import Training

/// Tools for the test suite: a store writer that can be raced against another or killed mid-write.
struct DebugCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "debug",
        abstract: "Internal tools used by the test suite.",
        shouldDisplay: false,
        subcommands: [StoreWriter.self, DataParallelCheckCommand.self])

    struct DataParallelCheckCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "data-parallel-check",
            abstract: "Under mpirun: one step of a scaled R3D-18 (synchronised batch norm) and one TCLR loss by the ranks together against one process on the whole batch.",
            discussion: "Prints the largest relative errors (JSON with --json); exits 1 when one exceeds --tolerance.")

        @Option(help: "Clips of the whole batch.") var batch: Int = 16
        @Option(help: "Largest relative error accepted.") var tolerance: Double = 1e-5
        @Flag(help: "Print the result as JSON.") var json = false

        func run() throws {
            let r = try Parallel.withThreads(Cluster.defaultThreads) { try DataParallelCheck.run(world: Cluster.world, batch: batch) }
            guard Cluster.isRoot else { return }
            if json { print(try encodeJSON(r, pretty: false)) } else {
                for (name, c) in [("classifier step", r.classifier), ("TCLR loss", r.tclr)] {
                    print(String(format: "%@: loss %.8g whole, %.8g by %d processes; relative errors: loss %.2e, gradients %.2e", name,
                                 c.wholeLoss, c.parallelLoss, r.processes, c.lossRelativeError, c.gradientRelativeError)
                          + String(format: " (worst tensor %.2e)", c.worstTensorGradientRelativeError)
                          + (c.weightRelativeError.map { String(format: ", weights after the step %.2e", $0) } ?? "")
                          + (c.bufferRelativeError.map { String(format: ", running statistics %.2e", $0) } ?? ""))
                }
            }
            if max(r.classifier.worst, r.tclr.worst) > tolerance { throw ExitCode(1) }
        }
    }

    struct StoreWriter: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "store-writer",
            abstract: "Begin a run and write metrics, one transaction each (or hold the last one open).")

        @Option(help: "Configuration name of the run.")
        var label: String = "debug"

        @Option(help: "Metric rows to write, one transaction each.")
        var count: Int = 100

        @Option(help: "Write one batch of this many metrics, then sleep this many seconds before committing it.")
        var holdBatch: Int = 0

        @Option(help: "Seconds to hold the batch's transaction open.")
        var holdSeconds: Double = 60

        @OptionGroup var store: StoreOptions

        func run() throws {
            let db = try ResultsStore(path: ResultsStore.resolvePath(store.db))
            let run = try db.beginRun(configuration: label, profile: "debug", seed: 0,
                                      provenance: MachineInfo.current(askToolchain: false).provenance())
            for i in 0..<count {
                try db.record(metrics: [MetricRecord(split: "val", spatialCrops: 1, temporalClips: 1,
                                                     samplingRule: "debug", metric: "m\(i)", value: Double(i))],
                              run: run)
            }
            if holdBatch > 0 {
                let batch = (0..<holdBatch).map {
                    MetricRecord(split: "val", spatialCrops: 3, temporalClips: 10, samplingRule: "debug",
                                 metric: "held\($0)", value: Double($0))
                }
                note("holding \(holdBatch) metrics in an open transaction")
                try db.record(metrics: batch, run: run, beforeCommit: {
                    print("holding", terminator: "\n"); fflush(stdout)
                    Thread.sleep(forTimeInterval: holdSeconds)
                })
            }
            try db.finishRun(run, status: .finished)
            print("run \(run) finished")
        }
    }
}
