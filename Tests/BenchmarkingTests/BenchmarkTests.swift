@testable import Benchmarking
import XCTest

/// The GEMM benchmark's ratios against its own baseline, and the timing helpers.
final class BenchmarkTests: XCTestCase {
    func testGemmBenchmarkReportsRatiosAgainstItsOwnBaseline() {
        let results = GemmBenchmark.run(threads: [1], minimumSeconds: 0.01)
        XCTAssertEqual(results.map(\.name), GemmBenchmark.shapes.map(\.name))
        XCTAssertEqual(results[0].ratioToBaseline, 1)
        for r in results {
            XCTAssertGreaterThan(r.gflops, 0.5, r.name)
            XCTAssertEqual(r.ratioToBaseline, r.gflops / results[0].gflops, accuracy: 1e-12)
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
