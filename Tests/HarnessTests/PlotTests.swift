import Foundation
import Harness
import Plot
import Store
import XCTest

final class PlotTests: XCTestCase {
    func testTable1RendersPNGAndSVGBesideItsDataAndScript() throws {
        let out = NSTemporaryDirectory() + "vipbench-plot-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: out) }
        let refs = try ReferenceTable.load(path: packageRoot + "/" + ReferenceTable.defaultPath)
        let files = try Gnuplot.render(try Table1Plot.figure(references: refs), into: out)
        XCTAssertEqual(files.map { ($0 as NSString).lastPathComponent },
                       ["table1.dat", "table1.gp", "table1.png", "table1.svg"])
        let size = try XCTUnwrap(pngSize(atPath: out + "/table1.png"))
        XCTAssertEqual(size.width, Table1Plot.pixelSize.width)
        XCTAssertEqual(size.height, Table1Plot.pixelSize.height)
        let svg = try String(contentsOfFile: out + "/table1.svg", encoding: .utf8)
        XCTAssertTrue(svg.contains("<svg"))
        XCTAssertTrue(svg.contains("R3D-50 · RGB · TCLR · 16x2 @224 · 3x10 views"), "every row is labelled")
        XCTAssertTrue(svg.contains("61.1"))
        let data = try String(contentsOfFile: out + "/table1.dat", encoding: .utf8)
        XCTAssertEqual(data.split(separator: "\n").filter { !$0.hasPrefix("#") }.count, 7)
        // The script re-renders by itself from its folder.
        try FileManager.default.removeItem(atPath: out + "/table1.png")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: try Gnuplot.locate())
        p.arguments = ["table1.gp"]
        p.currentDirectoryURL = URL(fileURLWithPath: out)
        try p.run(); p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0)
        XCTAssertNotNil(pngSize(atPath: out + "/table1.png"))
    }

    func testMissingGnuplotNamesThePackageToInstall() {
        XCTAssertThrowsError(try Gnuplot.locate(environment: ["PATH": "/nonexistent"])) { error in
            let message = String(describing: error)
            XCTAssertTrue(message.contains("gnuplot-nox"), message)
            XCTAssertTrue(message.contains("apt-get install"), message)
        }
        XCTAssertThrowsError(try Gnuplot.locate(environment: ["VIPBENCH_GNUPLOT": "/nonexistent/gnuplot"])) {
            XCTAssertTrue(String(describing: $0).contains("/nonexistent/gnuplot"))
        }
        XCTAssertNil(Gnuplot.version(environment: ["PATH": "/nonexistent"]))
    }

    func testNoReferenceRowsIsAClearError() {
        XCTAssertThrowsError(try Table1Plot.figure(references: [])) {
            XCTAssertTrue(String(describing: $0).contains("vipbench reference import"))
        }
    }

    func testPNGSizeReaderRejectsNonPNG() throws {
        let path = NSTemporaryDirectory() + "not-a-png-\(UUID().uuidString)"
        FileManager.default.createFile(atPath: path, contents: Data("hello, this is not a PNG file".utf8))
        defer { try? FileManager.default.removeItem(atPath: path) }
        XCTAssertNil(pngSize(atPath: path))
    }
}
