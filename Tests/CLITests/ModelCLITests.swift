import Foundation
import XCTest

final class ModelCLITests: XCTestCase {
    func testModelListAndInfo() throws {
        let list = try CLI.run(["model", "list"])
        XCTAssertEqual(list.status, 0, list.stderr)
        XCTAssertTrue(list.stdout.contains("r3d18") && list.stdout.contains("r3d50-hara"), list.stdout)
        let r = try CLI.run(["model", "info", "r3d18", "--input", "3x16x112x112", "--json", "--layers"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let o = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(o["parameters"] as? Int, 33_371_472)
        XCTAssertEqual(try XCTUnwrap(o["gmacs_per_view"] as? Double), 40.697, accuracy: 0.001)
        let layers = try XCTUnwrap(o["layers"] as? [[String: Any]])
        XCTAssertEqual(layers.first?["name"] as? String, "stem.0")
        XCTAssertEqual(layers.last?["name"] as? String, "fc")
        let bad = try CLI.run(["model", "info", "resnet9000"])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains("unknown model 'resnet9000'"), bad.stderr)
    }
}
