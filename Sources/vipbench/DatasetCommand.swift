import ArgumentParser
import Data
import Plot
import Foundation

struct DatasetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dataset",
        abstract: "Make, check and look at video datasets in the challenge's layout.",
        subcommands: [Synth.self, Check.self, Sample.self])

    /// Opens a dataset folder in the challenge's layout.
    static func open(_ dir: String) throws -> VideoDataset {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDir), isDir.boolValue else {
            throw ValidationError("\(dir) is not a folder")
        }
        return try VideoDataset.challenge(root: dir)
    }

    struct Sample: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Draw a contact sheet of a video's test views: the middle frame of every clip under every crop.",
            discussion: """
                Rows are temporal clips (with their frame ranges), columns spatial crops. The frames \
                are resized so the short side equals --size, then cropped as the test protocol does \
                (SlowFast's 3 crops along the long side, or 1 centre crop). The sheet's pixels, \
                gnuplot script and labels are written beside the PNG.
                """)

        @Argument(help: ArgumentHelp("The dataset folder.", valueName: "dir"))
        var dir: String

        @Option(help: "The video id.")
        var video: String

        @Option(help: ArgumentHelp("Clip as FRAMESxSKIP.", valueName: "FxS"))
        var clip: String = "16x2"

        @Option(help: ArgumentHelp("Views as CROPSxCLIPS.", valueName: "SxT"))
        var views: String = "3x10"

        @Option(help: "Temporal rule: \(TestSamplingRule.allCases.map(\.rawValue).joined(separator: ", ")).")
        var rule: String = TestSamplingRule.slowfastOffset.rawValue

        @Option(help: "Crop side in pixels (the short side is resized to it).")
        var size: Int = 96

        @Option(help: ArgumentHelp("The PNG to write.", valueName: "path"))
        var png: String

        func run() throws {
            guard let spec = ClipSpec(clip) else { throw ValidationError("--clip '\(clip)' is not FRAMESxSKIP") }
            let v = views.lowercased().split(separator: "x").compactMap { Int($0) }
            guard v.count == 2, v[0] == 1 || v[0] == 3, v[1] >= 1 else { throw ValidationError("--views '\(views)' is not CROPSxCLIPS with 1 or 3 crops") }
            guard let r = TestSamplingRule(rawValue: rule) else { throw ValidationError("--rule '\(rule)' is not one of \(TestSamplingRule.allCases.map(\.rawValue))") }
            let dataset = try DatasetCommand.open(dir)
            guard let item = dataset.items.first(where: { $0.id == video }) else {
                throw ValidationError("video '\(video)' is not in \(dir)'s annotations")
            }
            let sampler = ClipSampler(clip: spec, shortSide: size, mode: .test(crops: v[0], clips: v[1], rule: r, cropRule: .slowfast, size: size))
            let frames = try sampler.frames(of: item, cache: nil)
            let starts = r.starts(frameCount: frames.frames.count, clip: spec, clips: v[1])
            let gap = 6, cell = size
            let (cols, rows) = (v[0], v[1])
            let (W, H) = (cols * cell + (cols + 1) * gap, rows * cell + (rows + 1) * gap)
            var sheet = [UInt8](repeating: 255, count: W * H * 3)
            var labels: [String] = []
            for (row, start) in starts.enumerated() {
                let idx = spec.indices(start: start, frameCount: frames.frames.count, policy: .loop)
                let middle = idx[idx.count / 2]
                let pixels = ClipPixels(rgbFrames: [frames.frames[middle]], width: frames.width, height: frames.height)
                for col in 0..<cols {
                    let crop = TestCrop.apply(pixels, index: col, of: cols, size: size, rule: .slowfast)
                    for y in 0..<cell { for x in 0..<cell { for c in 0..<3 {
                        let (X, Y) = (gap + col * (cell + gap) + x, gap + row * (cell + gap) + y)
                        sheet[(Y * W + X) * 3 + c] = UInt8(max(0, min(255, (crop.data[(y * cell + x) * 3 + c] * 255).rounded())))
                    } } }
                }
                labels.append("clip \(row): frames \(idx.first!)-\(idx.last!) (shown \(middle))")
            }
            let outDir = (png as NSString).deletingLastPathComponent.isEmpty ? "." : (png as NSString).deletingLastPathComponent
            let name = ((png as NSString).lastPathComponent as NSString).deletingPathExtension
            let labelLines = labels.enumerated().map { i, l in
                "set label \(i + 1) \(Plot.Gnuplot.quoted(l)) at \(-8), \(H - (gap + i * (cell + gap) + cell / 2)) right font \",10\""
            }.joined(separator: "\n")
            let colLines = (0..<cols).map { c in
                "set label \(100 + c) \(Plot.Gnuplot.quoted(cols == 1 ? "centre crop" : ["crop 0: start", "crop 1: centre", "crop 2: end"][c])) at \(gap + c * (cell + gap) + cell / 2), \(H + 10) center font \",9\""
            }.joined(separator: "\n")
            let script = """
                # Contact sheet of \(item.id): \(views) views, clip \(spec), rule \(r.rawValue), crops of \(size) px.
                set terminal pngcairo size \(W + 330),\(H + 80) font "DejaVu Sans,10" background "white"
                set output "\(name).png"
                set label 999 \(Plot.Gnuplot.quoted("\(item.id) (\(item.label.map { dataset.classes[$0] } ?? "unlabelled")): \(views) views, clip \(spec), \(r.rawValue)")) at screen 0.5, screen \(String(format: "%.4f", 1 - 14.0 / Double(H + 70))) center noenhanced font ",11"
                unset border; unset tics; unset key
                set lmargin at screen \(String(format: "%.4f", 310.0 / Double(W + 330)))
                set rmargin at screen \(String(format: "%.4f", (310.0 + Double(W)) / Double(W + 330)))
                set tmargin at screen \(String(format: "%.4f", 1 - 50.0 / Double(H + 70)))
                set bmargin at screen \(String(format: "%.4f", 30.0 / Double(H + 70)))
                set xrange [0:\(W)]; set yrange [0:\(H)]
                \(labelLines)
                \(colLines)
                plot "\(name).rgb" binary array=(\(W),\(H)) flipy format="%uchar%uchar%uchar" with rgbimage
                unset output

                """
            try Plot.Gnuplot.render(Plot.Gnuplot.Figure(name: name, dataFiles: [:], binaryFiles: ["\(name).rgb": sheet],
                                                        script: script, outputs: ["\(name).png"]), into: outDir)
            note("wrote \(png) (\(rows) clips x \(cols) crops of \(item.id), \(frames.frames.count) frames)")
        }
    }

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Count videos per split and class, and list every missing, undecodable or too-short video.",
            discussion: """
                Decodes every video (frames are counted by decoding, not read from headers) and keeps \
                what it found in the dataset's frame index (.vipbench/frame-index.json: frame counts, \
                timestamps and keyframes), so training decodes only the part of a video each clip \
                needs; a video whose file has not changed since is not decoded again. Exits 0 unless \
                --strict and something is wrong.
                """)

        @Argument(help: ArgumentHelp("The dataset folder (annotations/ and train|val|test/).", valueName: "dir"))
        var dir: String

        @Option(name: .customLong("min-frames"), help: "Videos with fewer decodable frames are reported as too short.")
        var minFrames: Int = 16

        @Flag(help: "Print JSON.")
        var json = false

        @Flag(help: "Exit non-zero when any video has a problem.")
        var strict = false

        func run() throws {
            let dataset = try DatasetCommand.open(dir)
            let bar = ProgressBar(total: dataset.items.count, label: "videos")
            let index = FrameIndex(root: dataset.root)
            let report = DatasetCheck.run(dataset, minimumFrames: minFrames, index: index) { bar.update($0) }
            var indexFile: String?
            do { try index.save(); indexFile = index.location } catch { note("\(error) (the loader builds it again on first use)") }
            if json {
                struct Summary: Encodable {
                    var videos: Int
                    var classes: Int
                    var counts: [String: [String: Int]]
                    var problems: [DatasetCheck.Problem]
                    var frameIndex: String?
                }
                print(try encodeJSON(Summary(videos: report.videos, classes: dataset.classes.count, counts: report.counts,
                                             problems: report.problems, frameIndex: indexFile)))
            } else {
                print("\(dir): \(report.videos) videos, \(dataset.classes.count) classes")
                for split in report.counts.keys.sorted() {
                    let per = report.counts[split]!
                    let values = per.values
                    print("  \(split): \(values.reduce(0, +)) videos, \(per.count) classes, \(values.min() ?? 0)-\(values.max() ?? 0) per class")
                }
                if let indexFile { print("frame index (frame counts and keyframes, for the loader): \(indexFile)") }
                if report.problems.isEmpty {
                    print("no problems")
                } else {
                    print("\(report.problems.count) problem(s):")
                    for p in report.problems { print("  \(p.split)/\(p.id) [\(p.kind)] \(p.reason)") }
                }
            }
            if strict && !report.problems.isEmpty { throw ExitCode(1) }
        }
    }

    struct Synth: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Render the embedded synthetic motion dataset (no download needed).",
            discussion: """
                Ten classes defined by motion in five time-reversed pairs (moving left/right, up/down, \
                rotating clockwise/anticlockwise, growing/shrinking, fading in/out), all sharing one \
                appearance distribution, so a single frame says nothing about the class. Written in \
                the challenge's layout: annotations/clsIdx.csv, annotations/motion-{train,val}.csv \
                (label,videoid,split), annotations/motion-test-public.csv (videoid,split), \
                annotations/motion-test-labels.csv, and train|val|test/<videoid>.mp4 (MPEG-4 Part 2, 128x96). \
                The same seed gives the same files.
                """)

        @Option(help: ArgumentHelp("Output folder.", valueName: "dir"))
        var out: String

        @Option(help: "Seed of the dataset's generator.")
        var seed: UInt64 = 0

        @Option(help: "Number of classes (2-10; the first K of the list above).")
        var classes: Int = 10

        @Option(name: .customLong("per-class"), help: ArgumentHelp("Videos per class in train, val and test.", valueName: "TRAIN,VAL,TEST"))
        var perClass: String = "20,5,5"

        func run() throws {
            let counts = perClass.split(separator: ",").map { Int($0) }
            guard counts.count == 3, let tr = counts[0], let va = counts[1], let te = counts[2], tr >= 0, va >= 0, te >= 0 else {
                throw ValidationError("--per-class '\(perClass)' is not TRAIN,VAL,TEST (three counts)")
            }
            guard (2...10).contains(classes) else { throw ValidationError("--classes must be between 2 and 10") }
            var options = SyntheticDataset.Options()
            options.seed = seed
            options.classes = classes
            options.perClass = (tr, va, te)
            let bar = ProgressBar(total: classes * (tr + va + te), label: "videos")
            let s = try SyntheticDataset.generate(into: out, options: options) { done, _ in bar.update(done) }
            note(String(format: "wrote %d videos (%d frames) to %@ in %.1f s", s.videos, s.frames, out, s.seconds))
        }
    }
}
