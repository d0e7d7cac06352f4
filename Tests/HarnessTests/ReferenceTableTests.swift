import CSV
import Foundation
import Harness
import Store
import TestSupport
import XCTest

/// The package root, found from this file's path (Tests/HarnessTests/...).
let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().path



final class ReferenceTableTests: XCTestCase {
    func testCommittedTableHasTheSevenRowsOfTheReport() throws {
        let rows = try ReferenceTable.load(path: packageRoot + "/" + ReferenceTable.defaultPath)
        XCTAssertEqual(rows.count, 7)
        XCTAssertEqual(rows.map(\.value), [51.3, 40.5, 42.1, 31.9, 61.1, 33.2, 46.0])
        XCTAssertEqual(rows.map(\.tableRow), Array(1...7))
        let r5 = rows[4]
        XCTAssertEqual([r5.model, r5.modality, r5.pretraining, r5.clip, r5.views, r5.split, r5.metric, r5.unit],
                       ["R3D-50", "rgb", "TCLR", "16x2", "3x10", "val", "top1", "percent"])
        XCTAssertEqual(r5.resolution, 224)
        XCTAssertEqual(rows[2].views, "3x5")
    }

    /// The table the tool imports equals the report's Table 1 as transcribed in the reference
    /// facts (committed in Tests/Fixtures/reference).
    func testCommittedTableMatchesTheReferenceFixture() throws {
        let reference = try requireFixture(packageRoot + "/Tests/Fixtures/reference/table1.csv")
        XCTAssertEqual(try ReferenceTable.load(path: reference),
                       try ReferenceTable.load(path: packageRoot + "/" + ReferenceTable.defaultPath))
    }

    func parse(_ text: String) throws -> [ReferenceResult] {
        try ReferenceTable.parse(try CSVTable(text: text, source: "t.csv"))
    }

    let header = "row,model,modality,pretraining,resolution,frames,skip,spatial_crops,temporal_clips,val_top1_percent\n"

    func testErrorsNameFileLineAndColumn() {
        XCTAssertThrowsError(try parse("row,model\n1,x\n")) {
            XCTAssertEqual(String(describing: $0), "t.csv:1: missing column 'modality' (header: row,model)")
        }
        XCTAssertThrowsError(try parse(header + "1,MViT-B,rgb,none,224,sixteen,4,3,10,51.3\n")) {
            XCTAssertEqual(String(describing: $0), "t.csv:2: column 'frames': 'sixteen' is not a positive integer")
        }
        XCTAssertThrowsError(try parse(header + "1,MViT-B,rgb,none,224,16,4,3,10,abc\n")) {
            XCTAssertEqual(String(describing: $0), "t.csv:2: column 'val_top1_percent': 'abc' is not a number")
        }
        XCTAssertThrowsError(try parse(header + "1,MViT-B,rgb,none,224,16,4,3,10,151\n")) {
            XCTAssertTrue(String(describing: $0).contains("outside the range of a percent"))
        }
        XCTAssertThrowsError(try parse(header + "1,MViT-B,depth,none,224,16,4,3,10,51\n")) {
            XCTAssertTrue(String(describing: $0).contains("'depth' is neither 'rgb' nor 'flow'"))
        }
        XCTAssertThrowsError(try parse(header + "1,MViT-B,rgb,none,224,16,4,3,10,51\n1,I3D,flow,none,224,16,2,3,10,40\n")) {
            XCTAssertEqual(String(describing: $0), "t.csv:3: row 1 appears twice")
        }
        XCTAssertThrowsError(try parse(header + "1,MViT-B,rgb,none,224,16,4,3,10\n")) {
            XCTAssertEqual(String(describing: $0), "t.csv:2: has 9 fields, the header has 10")
        }
        XCTAssertThrowsError(try parse(header)) { XCTAssertTrue(String(describing: $0).contains("no rows")) }
        XCTAssertThrowsError(try parse(header.replacingOccurrences(of: "val_top1_percent", with: "accuracy") + "1,a,rgb,none,1,1,1,1,1,1\n")) {
            XCTAssertTrue(String(describing: $0).contains("column 'accuracy'"))
        }
        XCTAssertThrowsError(try ReferenceTable.load(path: "/nonexistent/table1.csv")) {
            XCTAssertEqual(String(describing: $0), "/nonexistent/table1.csv: file not found")
        }
    }

    func testSeveralMetricColumnsGiveOneResultEach() throws {
        let text = "row,model,modality,pretraining,resolution,frames,skip,spatial_crops,temporal_clips,val_top1_percent,val_top5_percent,test_mean_class_accuracy\n"
            + "1,MViT-B,RGB,none,224,16,4,3,10,51.3,75.5,0.5\n"
        let rows = try parse(text)
        XCTAssertEqual(rows.map(\.metric), ["top1", "top5", "mean_class_accuracy"])
        XCTAssertEqual(rows.map(\.split), ["val", "val", "test"])
        XCTAssertEqual(rows.map(\.unit), ["percent", "percent", "fraction"])
        XCTAssertEqual(rows[0].modality, "rgb")
    }
}

final class CSVTests: XCTestCase {
    func testQuotesEscapesCRLFBOMAndLineNumbers() throws {
        let text = "\u{FEFF}label,idx\r\n\"passing American football (in game)\",1\r\n\"say \"\"hi\"\", twice\",2\r\n\r\n\"multi\nline\",3\n"
        let t = try CSVTable(text: text, source: "c.csv")
        XCTAssertEqual(t.header, ["label", "idx"])
        XCTAssertEqual(t.records.map(\.fields), [["passing American football (in game)", "1"],
                                                  ["say \"hi\", twice", "2"], ["multi\nline", "3"]])
        XCTAssertEqual(t.records.map(\.line), [2, 3, 5])
    }

    func testMalformedCSVIsReportedWithItsLine() {
        XCTAssertThrowsError(try CSVTable(text: "a,b\n1,\"open\n", source: "x.csv")) {
            XCTAssertEqual(String(describing: $0), "x.csv:2: unterminated quoted field")
        }
        XCTAssertThrowsError(try CSVTable(text: "a,b\n1,x\"y\n", source: "x.csv")) {
            XCTAssertEqual(String(describing: $0), "x.csv:2: stray quote inside an unquoted field")
        }
        XCTAssertThrowsError(try CSVTable(text: "", source: "x.csv")) {
            XCTAssertEqual(String(describing: $0), "x.csv: is empty (expected a header line)")
        }
    }

    func testRenderRoundTrips() throws {
        let rows = [["a,b", "say \"x\""], [" lead", "plain"]]
        let text = CSVTable.render(header: ["h1", "h2"], rows: rows)
        XCTAssertEqual(try CSVTable(text: text, source: "r").records.map(\.fields), rows)
    }
}
