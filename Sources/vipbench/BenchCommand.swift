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
        subcommands: [Gemm.self, EngineBench.self])

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

struct EngineBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "engine",
        abstract: "conv3d forward/backward GFLOP/s at R3D-18's shapes, as ratios to GEMM; R3D-18 inference memory.",
        discussion: """
            Measures, in one run: SGEMM at 1024^3 (the baseline); conv3d forward and backward \
            (input and weight gradients) at every distinct convolution of R3D-18 on a 3x16x112x112 \
            clip, each with its ratio to the GEMM figure; their geometric means; and one R3D-18 \
            forward in inference mode (seconds per clip and peak resident memory).
            """)

    @Flag(help: "Print one JSON object per line (name, gflops, ratio_to_gemm, ...).")
    var json = false

    @Option(help: "Minimum seconds of repeats per figure.")
    var seconds: Double = 0.5

    @Flag(help: "Do not record the figures in the results store.")
    var noRecord = false

    @OptionGroup var store: StoreOptions

    func run() throws {
        let db = noRecord ? nil : try ResultsStore(path: ResultsStore.resolvePath(store.db))
        if !json { print("name".padding(toLength: 58, withPad: " ", startingAt: 0) + "  GFLOP/s  ratio to gemm   median ms") }
        let measure = {
            EngineBenchmark.run(minimumSeconds: seconds) { l in
                if json {
                    print("{\"name\": \(jsonString(l.name)), \"gflops\": \(round2(l.gflops)), \"ratio_to_gemm\": \(round2(l.ratioToGemm * 100) / 100), \"median_s\": \(l.medianSeconds), \"threads\": \(l.threads)}")
                } else {
                    print(l.name.padding(toLength: 58, withPad: " ", startingAt: 0)
                          + String(format: "%9.1f %14.3f %11.2f", l.gflops, l.ratioToGemm, l.medianSeconds * 1000))
                }
                fflush(stdout)
            }
        }
        let report: EngineBenchmark.Report
        if let db {
            report = try withRun(store: db, configuration: "bench:engine", profile: "micro") { run in
                let r = measure()
                try db.record(benchmarks: EngineBenchmark.records(r), run: run)
                return r
            }
        } else {
            report = measure()
        }
        let peak = report.r3d18InferencePeakBytes.map { String(format: "%.0f MB", Double($0) / 1e6) } ?? "unknown"
        if json {
            print("{\"name\": \"conv3d forward geometric mean\", \"ratio_to_gemm\": \(round2(report.forwardGeometricMeanRatio * 100) / 100)}")
            print("{\"name\": \"conv3d backward geometric mean\", \"ratio_to_gemm\": \(round2(report.backwardGeometricMeanRatio * 100) / 100)}")
            print("{\"name\": \"r3d18 inference 3x16x112x112\", \"seconds_per_clip\": \(report.r3d18InferenceSecondsPerClip), \"peak_rss_bytes\": \(report.r3d18InferencePeakBytes.map(String.init) ?? "null")}")
        } else {
            print(String(format: "conv3d forward, geometric mean of ratios to gemm:  %.3f (target >= 0.7)", report.forwardGeometricMeanRatio))
            print(String(format: "conv3d backward, geometric mean of ratios to gemm: %.3f (target >= 0.5)", report.backwardGeometricMeanRatio))
            print(String(format: "R3D-18 inference at 3x16x112x112: %.3f s per clip, peak resident memory %@", report.r3d18InferenceSecondsPerClip, peak))
        }
    }
}
