import Dispatch
import Flow
import Foundation
import Harness
import Plot
import Store

/// TV-L1 frame pairs per second against OpenCV's DualTVL1 measured in the same run (through
/// Python, when `cv2` with the contrib modules imports), on the same pictures.
public enum FlowBenchmark {
    public struct Line: Codable, Sendable {
        public var size: Int
        public var preset: String
        public var threads: Int
        /// One pair at a time on one thread.
        public var singleThreadPairsPerSecond: Double
        /// `threads` pairs at once, one thread each (how `flow extract --jobs` runs).
        public var pairsPerSecond: Double
        public var opencvPairsPerSecond: Double?
        public var opencvVersion: String?
        /// pairsPerSecond / opencvPairsPerSecond.
        public var ratio: Double?
        /// Mean endpoint error between vipbench's flow and OpenCV's on the benchmark pair.
        public var epeToOpenCV: Double?
    }

    /// The benchmark pair: a band-limited texture, the second frame rotated by 2 degrees about the
    /// centre and shifted by (1.3, -0.7) pixels, rounded to 8 bits.
    public static func pair(size: Int) -> (Plane, Plane) {
        let texture = SyntheticTexture(seed: 2021)
        let c = Double(size - 1) / 2, a = 2 * Double.pi / 180
        let p0 = SyntheticTexture.render(size, size) { texture($0, $1) }
        let p1 = SyntheticTexture.render(size, size) { x, y in
            let (px, py) = (x - 1.3 - c, y + 0.7 - c)
            return texture(c + cos(a) * px + sin(a) * py, c - sin(a) * px + cos(a) * py)
        }
        return (p0, p1)
    }

    public static func run(sizes: [Int] = [112, 224], preset: FlowPreset = .opencvCPU, threads: Int = 2,
                           minimumSeconds: Double = 2, python: String? = nil,
                           progress: (Line) -> Void = { _ in }) throws -> [Line] {
        let solver = TVL1(preset.parameters)
        let dir = NSTemporaryDirectory() + "vipbench-bench-flow-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var lines: [Line] = []
        for size in sizes {
            let (a, b) = pair(size: size)
            let ours = solver.flow(from: a, to: b)  // also the warm-up
            // One thread, one pair at a time.
            var n = 0
            let t0 = Timing.now()
            repeat { _ = solver.flow(from: a, to: b); n += 1 } while Timing.now() - t0 < minimumSeconds
            let single = Double(n) / (Timing.now() - t0)
            // `threads` pairs at once.
            let perThread = max(1, Int((single * minimumSeconds).rounded(.up)))
            let t1 = Timing.now()
            DispatchQueue.concurrentPerform(iterations: threads) { _ in
                for _ in 0..<perThread { _ = solver.flow(from: a, to: b) }
            }
            let parallel = Double(threads * perThread) / (Timing.now() - t1)
            var line = Line(size: size, preset: preset.rawValue, threads: threads, singleThreadPairsPerSecond: single,
                            pairsPerSecond: parallel)
            if let py = python ?? findPython(), preset == .opencvCPU {
                let p0 = "\(dir)/a\(size).pgm", p1 = "\(dir)/b\(size).pgm", flo = "\(dir)/cv\(size).flo"
                try writePGM(a, p0); try writePGM(b, p1)
                if let cv = opencv(python: py, p0, p1, flo: flo, threads: threads, seconds: minimumSeconds) {
                    line.opencvPairsPerSecond = cv.pairsPerSecond
                    line.opencvVersion = cv.version
                    line.ratio = parallel / cv.pairsPerSecond
                    line.epeToOpenCV = (try? FloFile.read(flo)).map { ours.endpointError(to: $0) }
                }
            }
            lines.append(line)
            progress(line)
        }
        return lines
    }

    static func findPython() -> String? {
        if let p = ProcessInfo.processInfo.environment["VIPBENCH_PYTHON"] { return p }
        return findExecutable("python3")
    }

    static func writePGM(_ p: Plane, _ path: String) throws {
        var d = Data("P5\n\(p.width) \(p.height)\n255\n".utf8)
        d.append(contentsOf: p.bytes)
        try d.write(to: URL(fileURLWithPath: path))
    }

    /// OpenCV's pairs per second with its default (CPU) parameters and `threads` threads, or nil
    /// when cv2.optflow does not import.
    static func opencv(python: String, _ a: String, _ b: String, flo: String, threads: Int, seconds: Double)
        -> (pairsPerSecond: Double, version: String)? {
        let script = """
            import sys, time, json
            try:
                import cv2
                tv = cv2.optflow.DualTVL1OpticalFlow_create()
            except Exception as e:
                print(json.dumps({"error": str(e)})); sys.exit(0)
            cv2.setNumThreads(\(threads))
            a = cv2.imread(sys.argv[1], 0); b = cv2.imread(sys.argv[2], 0)
            f = tv.calc(a, b, None); cv2.writeOpticalFlow(sys.argv[3], f)
            n = 0; t0 = time.perf_counter()
            while True:
                tv.calc(a, b, None); n += 1
                if time.perf_counter() - t0 >= \(seconds): break
            print(json.dumps({"pairs_per_second": n / (time.perf_counter() - t0), "version": cv2.__version__}))
            """
        let p = Process()
        p.executableURL = URL(fileURLWithPath: python)
        p.arguments = ["-c", script, a, b, flo]
        p.environment = ProcessTuning.untunedEnvironment
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        guard (try? p.run()) != nil else { return nil }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard let o = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let rate = o["pairs_per_second"] as? Double, let version = o["version"] as? String else { return nil }
        return (rate, version)
    }

    public static func records(_ lines: [Line]) -> [BenchmarkRecord] {
        lines.flatMap { l -> [BenchmarkRecord] in
            [BenchmarkRecord(name: "tvl1 \(l.preset) \(l.size)x\(l.size)", threads: l.threads, value: l.pairsPerSecond,
                             unit: "pairs/s", baseline: l.opencvVersion.map { "OpenCV \($0) DualTVL1, \(l.threads) threads" }, ratio: l.ratio),
             BenchmarkRecord(name: "tvl1 \(l.preset) \(l.size)x\(l.size) one pair at a time", threads: 1,
                             value: l.singleThreadPairsPerSecond, unit: "pairs/s", baseline: nil, ratio: nil)]
        }
    }
}
