import ArgumentParser
import Foundation
import Harness
import Store

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure speed, as ratios against a baseline measured in the same run.",
        discussion: """
            The machine is shared and noisy: each figure is a median over repeats, and comes with \
            its ratio to a baseline taken in the same run. Results are recorded in the results store \
            (a run with its benchmarks) unless --no-record is given.
            """,
        subcommands: [Gemm.self])

    struct Gemm: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "SGEMM GFLOP/s through the OpenBLAS binding, at 1 and 2 threads.",
            discussion: """
                Shapes: 1024x1024x1024 (the baseline), 64x200704x81 (R3D-18's stem lowered to a \
                GEMM: small K) and 512x392x4608 (a stage-4 3x3x3 convolution). ratio_to_baseline is \
                each shape's GFLOP/s over the 1024^3 figure at the same thread count.
                """)

        @Flag(help: "Print one JSON object per line instead of a table.")
        var json = false

        @Option(parsing: .upToNextOption, help: ArgumentHelp("Thread counts to measure.", valueName: "n"))
        var threads: [Int] = [1, 2]

        @Option(help: "Minimum seconds of repeats per figure.")
        var seconds: Double = 0.6

        @Flag(help: "Do not record the figures in the results store.")
        var noRecord = false

        @OptionGroup var store: StoreOptions

        func validate() throws {
            guard !threads.isEmpty, threads.allSatisfy({ $0 >= 1 && $0 <= 256 }) else {
                throw ValidationError("--threads takes counts between 1 and 256")
            }
            guard seconds > 0 else { throw ValidationError("--seconds must be positive") }
        }

        func run() throws {
            let db = noRecord ? nil : try ResultsStore(path: ResultsStore.resolvePath(store.db))
            if !json {
                print("shape                            threads   GFLOP/s   median ms   ratio to 1024^3")
            }
            let measure = {
                GemmBenchmark.run(threads: threads, minimumSeconds: seconds) { r in
                    if json {
                        print("{\"name\": \(jsonString(r.name)), \"m\": \(r.m), \"n\": \(r.n), \"k\": \(r.k), "
                              + "\"threads\": \(r.threads), \"gflops\": \(round2(r.gflops)), "
                              + "\"median_s\": \(r.medianSeconds), \"repeats\": \(r.repeats), "
                              + "\"ratio_to_baseline\": \(round2(r.ratioToBaseline * 100) / 100), "
                              + "\"baseline\": \(jsonString(r.baseline))}")
                    } else {
                        print(r.name.padding(toLength: 33, withPad: " ", startingAt: 0)
                              + String(format: "%7d %9.1f %11.2f %17.3f", r.threads, r.gflops,
                                       r.medianSeconds * 1000, r.ratioToBaseline))
                    }
                    fflush(stdout)
                }
            }
            if let db {
                _ = try withRun(store: db, configuration: "bench:gemm", profile: "micro") { run in
                    try db.record(benchmarks: GemmBenchmark.records(measure()), run: run)
                }
            } else {
                _ = measure()
            }
        }
    }
}

func round2(_ x: Double) -> Double { (x * 100).rounded() / 100 }
