@testable import Benchmarking
import XCTest

/// The GEMM benchmark's ratios against its own baseline, and the timing helpers.
final class BenchmarkTests: XCTestCase {
    func testGemmBenchmarkComparesOneDNNWithOpenBLAS() {
        let results = GemmBenchmark.run(threads: [1], minimumSeconds: 0.01)
        XCTAssertEqual(results.map(\.name), GemmBenchmark.shapes.flatMap { [$0.name, $0.name] })
        XCTAssertEqual(results.map(\.library), GemmBenchmark.shapes.flatMap { _ in ["openblas", "onednn"] })
        for pair in stride(from: 0, to: results.count, by: 2) {
            let (openblas, onednn) = (results[pair], results[pair + 1])
            XCTAssertGreaterThan(openblas.gflops, 0.5, openblas.name)
            XCTAssertGreaterThan(onednn.gflops, 0.5, onednn.name)
            XCTAssertEqual(openblas.ratioToOpenblas, 1)
            XCTAssertEqual(onednn.ratioToOpenblas, onednn.gflops / openblas.gflops, accuracy: 1e-12)
        }
    }

    /// Every op family is measured, and each line's roofline follows from the two roofs measured
    /// in the same run.
    func testEngineRooflineCoversEveryOpFamily() {
        let report = EngineBenchmark.run(minimumSeconds: 0.001, includeR3D: false)
        let (gemm, copy) = (report.lines[0], report.lines[1])
        XCTAssertEqual([gemm.name, copy.name], ["gemm 1024x1024x1024", "copy 64 MB"])
        XCTAssertEqual(gemm.ratioToGemm, 1, accuracy: 1e-12)
        XCTAssertGreaterThan(copy.gbPerSecond, 0.5)
        XCTAssertEqual(Set(report.lines.map(\.family)),
                       ["baseline", "conv3d", "linear", "attention", "pooling", "normalisation", "elementwise"])
        for l in report.lines.dropFirst(2) {
            XCTAssertGreaterThan(l.gflops, 0, l.name)
            let flopsPerByte = l.gflops / l.gbPerSecond
            XCTAssertEqual(l.rooflineGflops, min(gemm.gflops, flopsPerByte * copy.gbPerSecond), accuracy: 1e-9 * l.rooflineGflops, l.name)
            XCTAssertEqual(l.ofRoofline, l.gflops / l.rooflineGflops, accuracy: 1e-12, l.name)
        }
    }

    func testTimingMedian() {
        XCTAssertEqual(Timing.median([3, 1, 2]), 2)
        XCTAssertEqual(Timing.median([4, 1, 2, 3]), 2.5)
    }

    /// /proc/self/status pads to 8 digits with spaces: a peak of 10 GB or more has only the tab.
    func testStatusLinesParseAtEverySize() {
        let text = "Name:\tvipbench\nVmPeak:\t13100000 kB\nVmHWM:\t13076508 kB\nVmRSS:\t  378600 kB\n"
        XCTAssertEqual(Timing.statusBytes("VmHWM:", in: text), 13_076_508 * 1024)
        XCTAssertEqual(Timing.statusBytes("VmRSS:", in: text), 378_600 * 1024)
        XCTAssertNil(Timing.statusBytes("VmSwap:", in: text))
        XCTAssertNotNil(Timing.peakResidentBytes())
        // Freeing a large block and trimming gives the memory back: the resident size falls.
        var block: [Float]? = [Float](repeating: 1, count: 64 << 20)   // 256 MB, touched
        let before = Timing.residentBytes()!
        XCTAssertEqual(block?[12345], 1)
        block = nil
        XCTAssertTrue(Timing.releaseFreedMemory())
        XCTAssertLessThan(Timing.residentBytes()!, before - (128 << 20))
    }
}
