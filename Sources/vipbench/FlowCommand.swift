import ArgumentParser
import Data
import Distributed
import Flow
import Foundation
import Media

/// The TV-L1 preset and single-parameter overrides, shared by the flow commands.
struct TVL1Options: ParsableArguments {
    @Option(help: "Parameter preset: opencv-cpu (OpenCV's CPU defaults, mmaction2), opencv-cuda (300 iterations, no median: denseflow), ipol (IPOL 2013).")
    var preset: String = FlowPreset.opencvCPU.rawValue
    @Option(help: "Dual time step (override).") var tau: Double?
    @Option(help: "Data-term weight (override).") var lambda: Double?
    @Option(help: "Coupling weight (override).") var theta: Double?
    @Option(help: "Pyramid levels at most (override).") var scales: Int?
    @Option(help: "Warps per level (override).") var warps: Int?
    @Option(help: "Stopping threshold (override).") var epsilon: Double?
    @Option(name: .customLong("inner-iterations"), help: "Iterations between median filterings (override).") var innerIterations: Int?
    @Option(name: .customLong("outer-iterations"), help: "Median filterings per warp (override).") var outerIterations: Int?
    @Option(name: .customLong("scale-step"), help: "Size ratio between pyramid levels (override).") var scaleStep: Double?
    @Option(help: "Median filter size: 0 (off), 3 or 5 (override).") var median: Int?
    @Option(help: "Gaussian pre-smoothing sigma, 0 = none (override).") var presmoothing: Double?

    /// The preset's name, with "+custom" when a parameter was overridden, and the parameters.
    func resolve() throws -> (name: String, parameters: TVL1Parameters) {
        guard let base = FlowPreset(rawValue: preset) else {
            throw ValidationError("unknown preset '\(preset)'; known: \(FlowPreset.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        var p = base.parameters
        if let tau { p.tau = tau }
        if let lambda { p.lambda = lambda }
        if let theta { p.theta = theta }
        if let scales { p.scales = scales }
        if let warps { p.warps = warps }
        if let epsilon { p.epsilon = epsilon }
        if let innerIterations { p.innerIterations = innerIterations }
        if let outerIterations { p.outerIterations = outerIterations }
        if let scaleStep { p.scaleStep = scaleStep }
        if let median { p.medianFiltering = median }
        if let presmoothing { p.presmoothingSigma = presmoothing }
        if let problem = p.problem { throw ValidationError(problem) }
        return (p == base.parameters ? base.rawValue : base.rawValue + "+custom", p)
    }
}

struct FlowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "flow",
        abstract: "TV-L1 optical flow: between two pictures, over a whole dataset, and drawn in colour.",
        subcommands: [Pair.self, Show.self, Extract.self])

    struct Pair: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Flow from one picture to another, written as a Middlebury .flo file.",
            discussion: """
                Pictures are read with FFmpeg's decoders (PNG, PGM, PPM, JPEG, ...) and turned \
                to grey as OpenCV's cvtColor does. The flow maps the first picture to the second: \
                first(x) ~ second(x + flow(x)).
                """)

        @Argument(help: ArgumentHelp("The first picture.", valueName: "image0")) var image0: String
        @Argument(help: ArgumentHelp("The second picture.", valueName: "image1")) var image1: String
        @Option(help: ArgumentHelp("The .flo file to write.", valueName: "file")) var out: String
        @OptionGroup var tvl1: TVL1Options
        @Flag(help: "Print JSON.") var json = false

        func run() throws {
            let (name, parameters) = try tvl1.resolve()
            let a = try GreyImage.read(image0), b = try GreyImage.read(image1)
            guard a.width == b.width && a.height == b.height else {
                throw ValidationError("\(image0) is \(a.width)x\(a.height) but \(image1) is \(b.width)x\(b.height)")
            }
            guard a.width >= 4 && a.height >= 4 else { throw ValidationError("\(image0): \(a.width)x\(a.height) is too small for flow") }
            let start = Date()
            let f = TVL1(parameters).flow(from: a, to: b)
            let seconds = Date().timeIntervalSince(start)
            try FloFile.write(f, to: out)
            var mean = 0.0, longest: Float = 0
            for i in 0..<(f.width * f.height) {
                let m = (f.u.data[i] * f.u.data[i] + f.v.data[i] * f.v.data[i]).squareRoot()
                mean += Double(m); longest = max(longest, m)
            }
            mean /= Double(f.width * f.height)
            if json {
                struct Line: Encodable {
                    var out: String, width: Int, height: Int, preset: String
                    @Nullable var seconds: Double?
                    @Nullable var meanMagnitude: Double?
                    @Nullable var maxMagnitude: Double?
                }
                printJSONLine(Line(out: out, width: f.width, height: f.height, preset: name, seconds: rounded(seconds, 4),
                                       meanMagnitude: rounded(mean, 4), maxMagnitude: rounded(Double(longest), 4)))
            } else {
                print("\(out): \(f.width)x\(f.height) flow (\(name)), mean length \(String(format: "%.3f", mean)) px, "
                      + "longest \(String(format: "%.3f", longest)) px, \(String(format: "%.3f", seconds)) s")
            }
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Draw flow with the Middlebury colour coding (hue: direction, saturation: length).",
            discussion: """
                Reads a .flo file, or one frame of an extracted flow video (the .mkv or its .json; \
                --frame picks the pair). Full saturation is the longest vector unless --max is given.
                """)

        @Argument(help: ArgumentHelp("A .flo file, or an extracted flow video (.mkv / .json).", valueName: "flow")) var input: String
        @Option(help: ArgumentHelp("The PNG to write.", valueName: "path")) var png: String
        @Option(help: "Which frame pair of a flow video.") var frame: Int = 0
        @Option(help: "Flow length (pixels) drawn fully saturated.") var max: Double?

        func run() throws {
            let field: FlowField
            if input.hasSuffix(".flo") {
                field = try FloFile.read(input)
            } else {
                let base = input.hasSuffix(".mkv") || input.hasSuffix(".json") ? String(input.dropLast(input.hasSuffix(".mkv") ? 4 : 5)) : input
                let (record, frames) = try FlowVideo.read(base: base)
                guard frame >= 0 && frame < frames.count else { throw ValidationError("\(input) has \(frames.count) frame pairs; --frame \(frame) is out of range") }
                field = FlowQuantisation(bound: record.bound).field(x: frames[frame].x, y: frames[frame].y, width: record.width, height: record.height)
            }
            let (rgb, maximum) = FlowColour.render(field, maximum: max.map(Float.init))
            try ImageWriter.png(rgb, width: field.width, height: field.height, to: png)
            note("wrote \(png) (\(field.width)x\(field.height), saturated at \(String(format: "%.3f", maximum)) px)")
        }
    }

    struct Extract: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "TV-L1 flow for every consecutive frame pair of every video in a dataset, with resume.",
            discussion: """
                The dataset is a folder in the challenge's layout (as `dataset synth` makes). Each \
                video's flow goes to OUT/<split>/<videoid>.mkv (FFV1, x above y, quantised to 8 \
                bits over [-bound, bound] pixels, 20 by default as in the reference code) with a .json record beside it (source, preset, parameters, bound). A \
                video whose flow is complete with the same settings is skipped, a half-written one \
                is redone, and one that fails is reported while the rest go on. Exit status 1 when \
                any video failed.

                Under mpirun the videos are shared among the ranks (the i-th video to rank i mod N, \
                so a restarted job with the same N gives each rank the same videos and each skips \
                what is complete), all writing into OUT; the first rank prints the summary of all.
                """)

        @Option(help: ArgumentHelp("The dataset folder.", valueName: "dir")) var data: String
        @Option(help: ArgumentHelp("Where the flow goes.", valueName: "dir")) var out: String
        @Option(name: .customLong("short-side"), help: "Resize frames so the short side has this many pixels first.") var shortSide: Int?
        @Option(help: "Videos processed at once (one thread each; default 2, under mpirun the host's cores shared by its ranks).") var jobs: Int?
        @Option(help: ArgumentHelp("Flow is clipped to [-bound, bound] pixels and quantised to 8 bits over that range; the network reads flow / bound.", valueName: "pixels")) var bound: Float = 20
        @Option(help: "Only this split (train, val, test).") var split: String?
        @Option(help: "Only the first N videos (after --split).") var limit: Int?
        @OptionGroup var tvl1: TVL1Options
        @Flag(help: "Print the summary as JSON.") var json = false

        func run() throws {
            let (name, parameters) = try tvl1.resolve()
            let jobs = self.jobs ?? Cluster.defaultThreads
            guard jobs >= 1 else { throw ValidationError("--jobs must be at least 1") }
            if let shortSide, shortSide < 8 { throw ValidationError("--short-side must be at least 8") }
            guard bound > 0, bound.isFinite else { throw ValidationError("--bound must be a positive number of pixels") }
            let dataset = try DatasetCommand.open(data)
            var items = split.map { dataset.items(split: $0) } ?? dataset.items
            if let split, items.isEmpty { throw ValidationError("\(data) has no videos in split '\(split)' (splits: \(dataset.splits.joined(separator: ", ")))") }
            if let limit { items = Array(items.prefix(limit)) }
            let world = Cluster.world
            let all = items.map { FlowExtractor.Job(id: $0.id, source: $0.path, output: FlowVideo.base(root: out, split: $0.split, id: $0.id)) }
            let work = shard(all, rank: world.rank, size: world.size)
            if world.size > 1 { note("\(all.count) videos over \(world.size) ranks, \(work.count) on this one (rank 0)") }
            var extractor = FlowExtractor(parameters: parameters, preset: name, shortSide: shortSide, jobs: jobs)
            extractor.quantisation = FlowQuantisation(bound: bound)
            let bar = ProgressBar(total: work.count, label: "videos")
            var pairs = 0
            let start = Date()
            let outcomes = extractor.run(work) { done, _, job, outcome in
                if case .failed(let why) = outcome { Cluster.report("\(job.source): failed: \(why)") }
                if case .extracted(let n, _, let warnings) = outcome {
                    pairs += n
                    for w in warnings { Cluster.report("\(job.source): \(w)") }
                }
                bar.update(done)
            }
            var extracted = 0, skipped = 0, failed: [(String, String)] = []
            for (job, o) in zip(work, outcomes) {
                switch o {
                case .extracted: extracted += 1
                case .skipped: skipped += 1
                case .failed(let why): failed.append((job.id, why))
                }
            }
            if world.size > 1 {
                // Every rank's counts and failures, to the first rank (which waits for the last).
                let sums = world.allSum([extracted, skipped, pairs])
                (extracted, skipped, pairs) = (sums[0], sums[1], sums[2])
                let lists = world.allGather(text: (try? encodeJSON(failed.map { [$0.0, $0.1] }, pretty: false)) ?? "[]")
                failed = lists.flatMap { text in
                    ((try? JSONDecoder().decode([[String]].self, from: Data(text.utf8))) ?? []).map { ($0[0], $0[1]) }
                }
            }
            let seconds = Date().timeIntervalSince(start)
            let videos = all.count
            guard Cluster.isRoot else {
                if !failed.isEmpty { throw ExitCode(1) }
                return
            }
            if json {
                struct Failure: Encodable { var video: String, reason: String }
                struct Line: Encodable {
                    var videos: Int, extracted: Int, skipped: Int, failed: [Failure], pairs: Int
                    @Nullable var seconds: Double?
                    var preset: String, out: String
                }
                printJSONLine(Line(videos: videos, extracted: extracted, skipped: skipped, failed: failed.map { Failure(video: $0.0, reason: $0.1) },
                                       pairs: pairs, seconds: rounded(seconds, 2), preset: name, out: out))
            } else {
                print("\(videos) videos: \(extracted) extracted (\(pairs) frame pairs, "
                      + String(format: "%.1f pairs/s", seconds > 0 ? Double(pairs) / seconds : 0)
                      + "), \(skipped) already complete, \(failed.count) failed; preset \(name); flow in \(out)")
                for (id, why) in failed { print("  failed \(id): \(why)") }
            }
            if !failed.isEmpty { throw ExitCode(1) }
        }
    }
}
