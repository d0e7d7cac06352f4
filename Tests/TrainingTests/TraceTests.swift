import Engine
import Models
import XCTest
@testable import Training

/// One definition per network: every counted shape is the one the forward pass makes.
final class TraceTests: XCTestCase {
    func testEveryZooModelTracesItsForwardShape() {
        for architecture in Architecture.allCases {
            var g = SeededGenerator(seed: 1)
            let clip = [8, 32, 32]
            let width = architecture == .mvitB ? 8.0 / 96 : 0.125
            let m = ModelZoo.make(architecture, classes: 5, width: width, clip: clip, generator: &g)
            m.eval()
            let x = Tensor(randomNormal: [2, 3] + clip, generator: &g)
            let y = Autograd.withoutGradients { m(x) }
            var t = CostTrace()
            XCTAssertEqual(m.trace([2, 3] + clip, &t, name: ""), y.shape, architecture.rawValue)
            XCTAssertEqual(t.parameters, m.parameterCount, architecture.rawValue)
        }
    }

    func testTCLRHeadTracesItsForward() {
        var g = SeededGenerator(seed: 2)
        let net = TCLRNetwork(width: 0.125, generator: &g)
        var t = CostTrace()
        let out = net.head.trace([3, 64], &t, name: "head")
        net.eval()
        let y = Autograd.withoutGradients { net.head(Tensor(randomNormal: [3, 64], generator: &g)) }
        XCTAssertEqual(out, y.shape)
        XCTAssertEqual(out, [3, 16])
        XCTAssertEqual(t.parameters, net.head.parameterCount)
        XCTAssertEqual(t.macs, 3 * (64 * 64 + 64 * 16))
        var b = CostTrace()
        _ = net.backbone.trace([1, 3, 16, 32, 32], &b, name: "backbone")
        XCTAssertEqual(b.parameters + t.parameters, net.parameterCount)
    }
}
