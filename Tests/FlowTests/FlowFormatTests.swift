@testable import Flow
import Foundation
import XCTest

/// Against OpenCV on real footage, and the parts: median network, quantisation, files, colours.
final class FlowFormatTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/flow").path

    var dir = ""
    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "vipbench-flow-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }
    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    /// OpenCV 5.0's DualTVL1 (CPU defaults) on frame pairs of the test videos (Tests/Fixtures/videos)
    /// at 112 and 224 pixels (made by make_flow_fixtures.py): the `opencv-cpu` preset within 0.05 px
    /// mean EPE (measured 0.0002-0.014; the bound is 0.1).
    func testOpenCVPresetMatchesOpenCV() throws {
        for name in ["armwrestling112", "taichi112", "cleanandjerk224", "pool224"] {
            let a = try GreyImage.read("\(Self.fixtures)/\(name)_0.pgm"), b = try GreyImage.read("\(Self.fixtures)/\(name)_1.pgm")
            let reference = try FloFile.read("\(Self.fixtures)/\(name)_opencv.flo")
            let ours = TVL1(.opencvCPU).flow(from: a, to: b)
            let e = ours.endpointError(to: reference)
            XCTAssertLessThan(e, 0.05, "\(name): mean EPE \(e) px against OpenCV")
            // Not trivially zero flow: the pair moves.
            var total: Float = 0
            for i in 0..<(a.width * a.height) { total += abs(reference.u.data[i]) + abs(reference.v.data[i]) }
            let mean = total / Float(a.width * a.height)
            XCTAssertGreaterThan(mean, 0.05, name)
        }
    }

    func testPresetsDifferAndAreValid() {
        for p in FlowPreset.allCases { XCTAssertNil(p.parameters.problem, p.rawValue) }
        XCTAssertEqual(FlowPreset.opencvCUDA.parameters.innerIterations * FlowPreset.opencvCUDA.parameters.outerIterations, 300)
        XCTAssertEqual(FlowPreset.opencvCUDA.parameters.medianFiltering, 0)
        XCTAssertEqual(FlowPreset.ipol.parameters.scaleStep, 0.5)
        var bad = TVL1Parameters.opencvCPU
        bad.tau = 0.5
        XCTAssertNotNil(bad.problem)
    }

    func testMedianNetworkAgreesWithSorting() {
        var s: UInt64 = 3
        func next() -> Float { s = s &* 6364136223846793005 &+ 1; return Float(s >> 40) / Float(1 << 24) }
        for k in [3, 5] {
            for (w, h) in [(13, 9), (5, 5), (2, 7)] {
                let p = Plane(width: w, height: h, data: (0..<(w * h)).map { _ in next() })
                let m = Median.filter(p, size: k)
                for y in 0..<h { for x in 0..<w {
                    var window: [Float] = []
                    for dy in -(k / 2)...(k / 2) { for dx in -(k / 2)...(k / 2) {
                        window.append(p[min(max(x + dx, 0), w - 1), min(max(y + dy, 0), h - 1)])
                    } }
                    XCTAssertEqual(m[x, y], window.sorted()[k * k / 2], "k \(k) at (\(x), \(y)) of \(w)x\(h)")
                } }
            }
        }
        XCTAssertLessThan(Median.network25.count, 190, "pruned below Batcher's 191 comparators for 32")
    }

    func testQuantisationRoundTrip() {
        let q = FlowQuantisation(bound: 20)
        XCTAssertEqual(q.quantise(-20), 0)
        XCTAssertEqual(q.quantise(20), 255)
        XCTAssertEqual(q.quantise(0), 128, "127.5 rounds away from zero")
        XCTAssertEqual(q.quantise(-35), 0, "clipped")
        XCTAssertEqual(q.quantise(99), 255, "clipped")
        XCTAssertEqual(FlowQuantisation.unit(0), -1)
        XCTAssertEqual(FlowQuantisation.unit(255), 1)
        for c in stride(from: Float(-20), through: 20, by: 0.173) {
            XCTAssertLessThanOrEqual(abs(q.pixels(q.quantise(c)) - c), 20 / 255 + 1e-5, "\(c)")
        }
    }

    func testFloFileRoundTripAndErrors() throws {
        let f = FlowField(u: Plane(width: 3, height: 2, data: [0, 1.5, -2, 3.25, 1e-3, -7]),
                          v: Plane(width: 3, height: 2, data: [9, 8, 7, -6, 5, 4]))
        let path = dir + "/a.flo"
        try FloFile.write(f, to: path)
        XCTAssertEqual(try FloFile.read(path), f)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        XCTAssertEqual(bytes.count, 12 + 8 * 6)
        XCTAssertEqual(Array(bytes.prefix(4)), Array("PIEH".utf8))
        try bytes.prefix(30).write(to: URL(fileURLWithPath: dir + "/short.flo"))
        XCTAssertThrowsError(try FloFile.read(dir + "/short.flo")) { XCTAssertTrue("\($0)".contains("truncated"), "\($0)") }
        try Data("hello world, not flow".utf8).write(to: URL(fileURLWithPath: dir + "/text.flo"))
        XCTAssertThrowsError(try FloFile.read(dir + "/text.flo")) { XCTAssertTrue("\($0)".contains("PIEH"), "\($0)") }
        XCTAssertThrowsError(try FloFile.read(dir + "/missing.flo")) { XCTAssertTrue("\($0)".contains("no such file"), "\($0)") }
    }

    /// Middlebury's wheel: rightward flow is red, no flow white, leftward cyan-ish.
    func testColourCoding() {
        let f = FlowField(u: Plane(width: 3, height: 1, data: [1, 0, -1]), v: Plane(width: 3, height: 1, data: [0, 0, 0]))
        let (rgb, maximum) = FlowColour.render(f)
        XCTAssertEqual(maximum, 1)
        XCTAssertEqual(Array(rgb[0..<3]), [255, 0, 0])
        XCTAssertEqual(Array(rgb[3..<6]), [255, 255, 255])
        XCTAssertLessThan(rgb[6], 40); XCTAssertGreaterThan(rgb[7], 200); XCTAssertGreaterThan(rgb[8], 200)
    }

    /// Flow videos are lossless: what was quantised is what comes back, and the record says so.
    func testFlowVideoRoundTrip() throws {
        let (w, h) = (20, 12)
        var frames: [(x: [UInt8], y: [UInt8])] = []
        for k in 0..<3 {
            let x: [UInt8] = (0..<(w * h)).map { (i: Int) -> UInt8 in UInt8((i * 7 + k) % 256) }
            let y: [UInt8] = (0..<(w * h)).map { (i: Int) -> UInt8 in UInt8((i * 13 + 5 * k) % 256) }
            frames.append((x, y))
        }
        let record = FlowVideo.Record(source: "src.mp4", sourceFrames: 4, flowFrames: 3, width: w, height: h, preset: "opencv-cpu",
                                      parameters: .opencvCPU, bound: 20, shortSide: nil, bytes: 0)
        try FlowVideo.write(base: dir + "/v", frames: frames, width: w, height: h, frameRate: .init(numerator: 25, denominator: 1), record: record)
        let (r, back) = try FlowVideo.read(base: dir + "/v")
        XCTAssertEqual(r.flowFrames, 3)
        XCTAssertNotNil(FlowVideo.completeRecord(dir + "/v"))
        for (a, b) in zip(frames, back) { XCTAssertEqual(a.x, b.x); XCTAssertEqual(a.y, b.y) }
        // A damaged .mkv (size differs from the record) is not complete.
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: dir + "/v.mkv"))
        try handle.truncate(atOffset: 100)
        try handle.close()
        XCTAssertNil(FlowVideo.completeRecord(dir + "/v"))
    }
}
