import ArgumentParser
import Foundation
import Benchmarking
import Engine
import Harness
import Models
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
        subcommands: [Gemm.self, EngineBench.self, Decode.self, Loader.self, ModelBench.self, FlowBench.self])

    struct Gemm: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "SGEMM GFLOP/s of the engine's GEMM (oneDNN's) against OpenBLAS's, at 1 and 2 threads.",
            discussion: """
                Shapes: 1024x1024x1024, 64x200704x81 (R3D-18's stem lowered to a GEMM: small K), \
                512x392x4608 (a stage-4 3x3x3 convolution) and three of MViT-B's first-stage token \
                products (25,089 tokens x 96 channels). Each shape runs with OpenBLAS, then with \
                oneDNN; ratio_to_openblas is oneDNN's GFLOP/s over OpenBLAS's at the same shape and \
                thread count, measured in the same run.
                """)

        @Flag(help: "Print one JSON object per line instead of a table.")
        var json = false

        @Option(parsing: .upToNextOption, help: ArgumentHelp("Thread counts to measure.", valueName: "n"))
        var threads: [Int] = [1, 2]

        @Option(help: "Minimum seconds of repeats per figure.")
        var seconds: Double = 0.6

        @OptionGroup var recording: BenchRecording

        func validate() throws {
            guard !threads.isEmpty, threads.allSatisfy({ $0 >= 1 && $0 <= 256 }) else {
                throw ValidationError("--threads takes counts between 1 and 256")
            }
            guard seconds > 0 else { throw ValidationError("--seconds must be positive") }
        }

        func run() throws {
            if !json {
                print("shape                             library  threads   GFLOP/s   median ms   ratio to OpenBLAS")
            }
            let measure = {
                GemmBenchmark.run(threads: threads, minimumSeconds: seconds) { r in
                    if json {
                        print((try? encodeJSON(r, pretty: false)) ?? "{}")
                    } else {
                        print(r.name.padding(toLength: 34, withPad: " ", startingAt: 0)
                              + r.library.padding(toLength: 8, withPad: " ", startingAt: 0)
                              + String(format: "%7d %9.1f %11.2f %19.2f", r.threads, r.gflops,
                                       r.medianSeconds * 1000, r.ratioToOpenblas))
                    }
                    fflush(stdout)
                }
            }
            _ = try recording.run(configuration: "bench:gemm", measure) { db, results, run in
                try db.record(benchmarks: GemmBenchmark.records(results), run: run)
            }
        }
    }
}

/// `--no-record` and `--db`, shared by the benchmarks, and the one way they record: the store is
/// opened before measuring (a bad database fails at once), and the figures go into a run of it.
struct BenchRecording: ParsableArguments {
    @Flag(help: "Do not record the figures in the results store.")
    var noRecord = false

    @OptionGroup var store: StoreOptions

    /// `measure`'s result, measured inside a run of the store unless --no-record; `save` records it.
    func run<T>(configuration: String, profile: String = "micro", _ measure: () throws -> T,
                save: (ResultsStore, T, Int64) throws -> Void) throws -> T {
        if noRecord { return try measure() }
        let db = try ResultsStore(path: ResultsStore.resolvePath(store.db))
        return try withRun(store: db, configuration: configuration, profile: profile) { run in
            let result = try measure()
            try save(db, result, run)
            return result
        }
    }
}

/// A number for JSON with `digits` decimals (formatting the text avoids binary noise such as
/// 0.6859000000000001).
func fixed(_ x: Double, _ digits: Int) -> String { x.isFinite ? String(format: "%.\(digits)f", x) : "null" }
func fixed2(_ x: Double) -> String { fixed(x, 2) }

struct EngineBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "engine",
        abstract: "The engine as a roofline: each op family's GFLOP/s and GB/s against GEMM and a copy, same run.",
        discussion: """
            Measures, in one run: the engine's SGEMM at 1024^3 (the compute roof) and a 64 MB copy \
            (the memory roof); conv3d forward and backward (input and weight gradients) at every \
            distinct convolution of R3D-18 on a 3x16x112x112 clip; linear, attention, depthwise \
            and max pooling, layer norm, GELU and softmax at MViT-B's first-stage shapes and batch \
            norm + ReLU at R3D-18's; and one R3D-18 forward in inference mode (seconds per clip, \
            peak resident memory). Per op: GFLOP/s (nominal for memory-bound ops), its ratio to \
            GEMM, GB/s of compulsory traffic, and the fraction of what the roofline allows at its \
            flops per byte (min of the GEMM rate and flops/byte x copy GB/s).
            """)

    @Flag(help: "Print one JSON object per line (name, family, gflops, ratio_to_gemm, gb_per_second, ...).")
    var json = false

    @Option(help: "Minimum seconds of repeats per figure.")
    var seconds: Double = 0.5

    @OptionGroup var recording: BenchRecording

    struct Summary: Encodable {
        var name: String
        var ratioToGemm: Double?
        var secondsPerClip: Double?
        var peakRssBytes: Int?
    }

    func run() throws {
        if !json {
            print("name".padding(toLength: 58, withPad: " ", startingAt: 0) + "  GFLOP/s  ratio to gemm    GB/s  of roofline   median ms")
        }
        let measure = {
            EngineBenchmark.run(minimumSeconds: seconds) { l in
                if json {
                    print((try? encodeJSON(l, pretty: false)) ?? "{}")
                } else {
                    print(l.name.padding(toLength: 58, withPad: " ", startingAt: 0)
                          + String(format: "%9.1f %14.3f %7.1f %12.2f %11.2f", l.gflops, l.ratioToGemm, l.gbPerSecond,
                                   l.ofRoofline, l.medianSeconds * 1000))
                }
                fflush(stdout)
            }
        }
        let report = try recording.run(configuration: "bench:engine", measure) { db, r, run in
            try db.record(benchmarks: EngineBenchmark.records(r), run: run)
        }
        let peak = report.r3d18InferencePeakBytes.map { String(format: "%.0f MB", Double($0) / 1e6) } ?? "unknown"
        if json {
            for summary in [Summary(name: "conv3d forward geometric mean", ratioToGemm: report.forwardGeometricMeanRatio),
                            Summary(name: "conv3d backward geometric mean", ratioToGemm: report.backwardGeometricMeanRatio),
                            Summary(name: "r3d18 inference 3x16x112x112", secondsPerClip: report.r3d18InferenceSecondsPerClip,
                                    peakRssBytes: report.r3d18InferencePeakBytes)] {
                print(try encodeJSON(summary, pretty: false))
            }
        } else {
            print(String(format: "conv3d forward, geometric mean of ratios to gemm:  %.3f (target >= 0.7)", report.forwardGeometricMeanRatio))
            print(String(format: "conv3d backward, geometric mean of ratios to gemm: %.3f (target >= 0.5)", report.backwardGeometricMeanRatio))
            print(String(format: "R3D-18 inference at 3x16x112x112: %.3f s per clip, peak resident memory %@", report.r3d18InferenceSecondsPerClip, peak))
        }
    }
}

struct Decode: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Decode + RGB frames per second against the ffmpeg command, one thread each, same run.",
        discussion: """
            For each file: vipbench's decoder at native size with one decoder thread, and `ffmpeg \
            -threads 1 -filter_threads 1 -i FILE -map 0:v:0 -f rawvideo -pix_fmt rgb24` writing to \
            /dev/null, minus a one-frame run of the same command (its start-up); medians of 3 runs, \
            and the ratio. Default files: five of Tests/Fixtures/videos (340x256 to 1280x720).
            """)

    @Argument(help: ArgumentHelp("Video files.", valueName: "file"))
    var files: [String] = []

    @Flag(help: "Print one JSON object per line.")
    var json = false

    @OptionGroup var recording: BenchRecording

    func run() throws {
        var list = files
        if list.isEmpty {
            let dir = "Tests/Fixtures/videos"
            let defaults = ["kinetics-arm-wrestling.mp4", "kinetics-tai-chi.mp4", "broken-audio.mp4", "vp9-no-duration.webm", "truncated.mp4"]
            list = defaults.map { "\(dir)/\($0)" }.filter { FileManager.default.fileExists(atPath: $0) }
            guard !list.isEmpty else { throw ValidationError("give video files to decode (no Tests/Fixtures/videos here)") }
        }
        let measure = {
            try DataBenchmarks.decode(files: list) { l in
                if json {
                    struct Line: Encodable {
                        var file: String, frames: Int
                        @Nullable var vipbenchFPS: Double?
                        @Nullable var ffmpegFPS: Double?
                        @Nullable var ratio: Double?
                    }
                    printJSONLine(Line(file: l.file, frames: l.frames, vipbenchFPS: rounded(l.vipbenchFPS, 2),
                                           ffmpegFPS: l.ffmpegFPS.flatMap { rounded($0, 2) }, ratio: l.ratio.flatMap { rounded($0, 4) }))
                } else {
                    print(String(format: "%@  %d frames %dx%d: vipbench %.0f fps, ffmpeg %@, ratio %@", (l.file as NSString).lastPathComponent, l.frames, l.width, l.height,
                                 l.vipbenchFPS, l.ffmpegFPS.map { String(format: "%.0f fps", $0) } ?? "missing", l.ratio.map { String(format: "%.2f", $0) } ?? "-"))
                }
                fflush(stdout)
            }
        }
        _ = try recording.run(configuration: "bench:decode", measure) { db, lines, run in
            try db.record(benchmarks: lines.map {
                BenchmarkRecord(name: "decode \(($0.file as NSString).lastPathComponent)", threads: 1, value: $0.vipbenchFPS,
                                unit: "frames/s", baseline: "ffmpeg command", ratio: $0.ratio)
            }, run: run)
        }
    }
}

struct Loader: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Training clips per second at 16x112x112 with TCLR's augmentations, beside decord's on the same clips.",
        discussion: """
            Builds the dataset's frame index if needed (timed), then loads one epoch of training \
            clips (16x2, short side 128) decoding only what each clip needs, the same clips \
            decoding whole videos (the loader without an index), and from the frame cache; decord \
            (through python3, when it imports) reads the same frames at the same size on one \
            thread (the loaders and decord: best of two interleaved rounds). Then the frames of \
            3x10 test views against one sequential decode per video (the better of two each, \
            averaged over up to 8 videos). Real footage in the challenge's \
            layout: Benchmarks/make_loader_footage.sh makes 16 videos from the test fixtures.
            """)

    @Argument(help: ArgumentHelp("A dataset folder in the challenge's layout (for example one made by `vipbench dataset synth`).", valueName: "dir"))
    var dir: String

    @Option(help: "Clips (training videos) to load.")
    var clips: Int = 64

    @Option(help: "Worker threads.")
    var workers: Int = 2

    @Flag(help: "Print JSON.")
    var json = false

    func run() throws {
        guard workers >= 1, clips >= 1 else { throw ValidationError("--workers and --clips must be at least 1") }
        let dataset = try DatasetCommand.open(dir)
        let r = try DataBenchmarks.loader(dataset: dataset, clips: clips, workers: workers)
        if json { print(try encodeJSON(r, pretty: false)); return }
        print(String(format: "%d clips of 16x112x112, %d workers (frame index built in %.1f s)", r.clips, r.workers, r.indexSeconds))
        print(String(format: "  decoding what each clip needs  %7.2f clips/s  (%.2f per core)", r.coldClipsPerSecond, r.coldClipsPerSecond / Double(r.workers)))
        print(String(format: "  decoding whole videos          %7.2f clips/s", r.wholeVideoClipsPerSecond))
        print(String(format: "  from the frame cache           %7.2f clips/s", r.cachedClipsPerSecond))
        if let d = r.decordClipsPerSecond, let ratio = r.perCoreRatioToDecord {
            print(String(format: "  decord, same clips             %7.2f clips/s (%@); vipbench per core / decord: %.2fx", d, r.decordNote ?? "", ratio))
        } else {
            print("  decord: \(r.decordNote ?? "not measured")")
        }
        let t = r.testViews
        print(String(format: "test views 3x10 of 16x2, %d videos: %.3f s per video, one sequential decode %.3f s (%.2fx)",
                     t.videos, t.viewsSecondsPerVideo, t.sequentialSecondsPerVideo, t.ratio))
    }
}

struct ModelBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "model",
        abstract: "A model's seconds per clip, clips per second, achieved GFLOP/s and peak memory.",
        discussion: """
            Inference (nothing recorded for gradients) or, with --train, one training step \
            (forward, cross-entropy, backward). Median over repeats for at least --seconds. \
            Recorded in the results store's performance table unless --no-record.
            """)

    @Argument(help: ArgumentHelp("The network (see `vipbench model list`).", valueName: "model"))
    var architecture: Architecture

    @Option(help: ArgumentHelp("Input as CxTxHxW (default: the model's paper input).", valueName: "CxTxHxW"))
    var input: String?

    @Option(help: "Batch size.")
    var batch: Int = 1

    @Option(help: "Threads for OpenBLAS and the engine's loops.")
    var threads: Int = 2

    @Flag(help: "Time a training step instead of inference.")
    var train = false

    @Option(help: "Run the batch as this many micro-batches (gradient accumulation: memory of one micro-batch).")
    var accumulate: Int = 1

    @Option(help: "Channel-width multiplier.")
    var width: Double = 1

    @Option(help: "Minimum seconds of repeats.")
    var seconds: Double = 2

    @OptionGroup var convolution: ConvolutionOptions

    @Flag(help: "Print JSON.")
    var json = false

    @OptionGroup var recording: BenchRecording

    /// The `--json` line.
    struct ModelLine: Encodable {
        var model: Architecture, input: String, batch: Int, threads: Int, mode: String, convolution: String
        var secondsPerClip, clipsPerSecond, gmacsPerView, achievedGflops: Double
        var peakRssBytes: Int?
        var repeats: Int
    }

    func run() throws {
        let shape = try clipShape(input, default: architecture.defaultInput)
        guard batch >= 1, threads >= 1 else { throw ValidationError("--batch and --threads must be at least 1") }
        guard accumulate >= 1, batch % accumulate == 0 else { throw ValidationError("--batch \(batch) does not split into --accumulate \(accumulate) equal micro-batches") }
        convolution.select()
        let backend = ConvolutionBackend.current
        let measure = { ModelBenchmark.run(model: architecture, input: shape, batch: batch, threads: threads, train: train, width: width,
                                               minimumSeconds: seconds, accumulate: accumulate) }
        let r = try recording.run(configuration: "bench:model:\(architecture.rawValue)" + (backend == .onednn ? "" : ":\(backend.rawValue)"), profile: width == 1 ? "full" : "width-\(width)", measure) { db, r, run in
            try db.record(performance: [ModelBenchmark.record(r)], run: run)
        }
        let peak = r.peakResidentBytes.map { String(format: "%.0f MB", Double($0) / 1e6) } ?? "unknown"
        if json {
            print(try encodeJSON(ModelLine(model: r.model, input: shape.map(String.init).joined(separator: "x"), batch: r.batch,
                                           threads: r.threads, mode: r.mode, convolution: ConvolutionBackend.summary, secondsPerClip: r.secondsPerClip,
                                           clipsPerSecond: r.clipsPerSecond, gmacsPerView: r.gmacsPerView,
                                           achievedGflops: r.achievedGflops, peakRssBytes: r.peakResidentBytes, repeats: r.repeats),
                                 pretty: false))
        } else {
            print(String(format: "%@ %@ %@, batch %d, %d threads: %.3f s per clip (%.2f clips/s), %.1f GFLOP/s achieved, peak resident memory %@ (%d repeats; convolutions: %@)",
                         r.model.rawValue, shape.map(String.init).joined(separator: "x"), r.mode, r.batch, r.threads, r.secondsPerClip, r.clipsPerSecond, r.achievedGflops, peak, r.repeats,
                         ConvolutionBackend.summary))
        }
    }
}

struct FlowBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "flow",
        abstract: "TV-L1 frame pairs per second at 112x112 and 224x224 against OpenCV's DualTVL1, same run.",
        discussion: """
            The pair is a synthetic texture rotated by 2 degrees and shifted (1.3, -0.7) px. vipbench \
            is timed one pair at a time on one thread, and --threads pairs at once (one thread \
            each, as `flow extract --jobs` runs). OpenCV (cv2 with the contrib modules, through \
            python3 or $VIPBENCH_PYTHON) is timed on the same pictures with cv2.setNumThreads \
            (--threads) when it imports; the ratio and the mean endpoint error between the two \
            flows are printed. At least --seconds of repeats each.
            """)

    @Option(help: "Threads (vipbench: pairs at once; OpenCV: its thread count).")
    var threads: Int = 2

    @Option(help: ArgumentHelp("Frame sizes (square).", valueName: "pixels"))
    var sizes: [Int] = [112, 224]

    @Option(help: "Minimum seconds of repeats per measurement.")
    var seconds: Double = 2

    @Flag(help: "Print one JSON object per line.")
    var json = false

    @OptionGroup var recording: BenchRecording

    func run() throws {
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
        guard sizes.allSatisfy({ $0 >= 16 }) else { throw ValidationError("sizes must be at least 16 pixels") }
        let measure = {
            try FlowBenchmark.run(sizes: sizes, threads: threads, minimumSeconds: seconds) { l in
                if json {
                    struct Line: Encodable {
                        var size: Int, preset: String, threads: Int
                        @Nullable var pairsPerSecond: Double?
                        @Nullable var singleThreadPairsPerSecond: Double?
                        @Nullable var opencvPairsPerSecond: Double?
                        @Nullable var opencvVersion: String?
                        @Nullable var ratio: Double?
                        @Nullable var epeToOpencv: Double?
                    }
                    printJSONLine(Line(size: l.size, preset: l.preset, threads: l.threads, pairsPerSecond: rounded(l.pairsPerSecond, 2),
                                           singleThreadPairsPerSecond: rounded(l.singleThreadPairsPerSecond, 2),
                                           opencvPairsPerSecond: l.opencvPairsPerSecond.flatMap { rounded($0, 2) }, opencvVersion: l.opencvVersion,
                                           ratio: l.ratio.flatMap { rounded($0, 3) }, epeToOpencv: l.epeToOpenCV.flatMap { rounded($0, 4) }))
                } else {
                    var text = String(format: "%dx%d %@: vipbench %.1f pairs/s with %d threads (%.1f one pair at a time)",
                                      l.size, l.size, l.preset, l.pairsPerSecond, l.threads, l.singleThreadPairsPerSecond)
                    if let cv = l.opencvPairsPerSecond, let r = l.ratio {
                        text += String(format: ", OpenCV %@ %.1f pairs/s: ratio %.2f, mean EPE between them %.4f px",
                                       l.opencvVersion ?? "?", cv, r, l.epeToOpenCV ?? .nan)
                    } else {
                        text += ", OpenCV not measured (python3 with cv2.optflow not found)"
                    }
                    print(text)
                }
                fflush(stdout)
            }
        }
        _ = try recording.run(configuration: "bench:flow", measure) { db, lines, run in
            try db.record(benchmarks: FlowBenchmark.records(lines), run: run)
        }
    }
}
