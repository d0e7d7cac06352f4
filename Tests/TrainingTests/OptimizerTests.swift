import Engine
import Foundation
import XCTest
@testable import Training

/// torch.optim's SGD, Adam and AdamW over 20 steps (Tests/Fixtures/optim/make_fixtures.py).
final class OptimizerTests: XCTestCase {
    struct Fixture: Decodable {
        struct Case: Decodable {
            var name: String
            var shapes: [String: [Int]]
            var initial: [String: [Float]]
            var gradients: [[String: [Float]]]
            var learning_rates: [Double]
            var final: [String: [Float]]
            var frozen: [String]
            var clip: Double?
            var no_decay_1d: Bool
        }
        var torch: String
        var cases: [Case]
    }

    static let fixturePath = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/optim/optimizer_steps.json").path

    func loadFixture() throws -> Fixture {
        let data = try XCTUnwrap(FileManager.default.contents(atPath: Self.fixturePath), "missing fixture \(Self.fixturePath)")
        return try JSONDecoder().decode(Fixture.self, from: data)
    }

    func testStepsMatchTorchOptim() throws {
        let fixture = try loadFixture()
        XCTAssertEqual(fixture.cases.map(\.name), ["sgd-nesterov-decay", "adam-decay", "adamw-groups-clip"])
        for c in fixture.cases {
            let rule: OptimizerRule
            let groups: ParameterGroups
            switch c.name {
            case "sgd-nesterov-decay": rule = .sgd(momentum: 0.9, nesterov: true); groups = ParameterGroups(weightDecay: 5e-4)
            case "adam-decay": rule = .adamDefault; groups = ParameterGroups(weightDecay: 1e-3)
            default:
                rule = .adamwDefault
                groups = ParameterGroups(weightDecay: 0.05, noDecayOnOneDimensional: c.no_decay_1d, frozenPrefixes: c.frozen)
            }
            var opt = Optimizer(rule: rule, groups: groups)
            let names = c.shapes.keys.sorted()
            let params = names.map { ($0, Tensor(shape: c.shapes[$0]!, data: c.initial[$0]!, requiresGrad: true)) }
            for (t, grads) in c.gradients.enumerated() {
                for (name, p) in params { p.grad = c.frozen.contains(name) ? nil : grads[name] }
                if let clip = c.clip { clipGradientNorm(params.filter { !c.frozen.contains($0.0) }.map(\.1), maxNorm: clip) }
                opt.step(params, lr: c.learning_rates[t])
            }
            for (name, p) in params {
                let expected = c.final[name]!
                let scale = expected.map { abs($0) }.max()!
                let err = zip(p.data, expected).map { abs($0 - $1) }.max()! / scale
                XCTAssertLessThan(err, 1e-6, "\(c.name) \(name): relative error \(err)")
                if c.frozen.contains(name) {
                    XCTAssertEqual(p.data, c.initial[name]!, "\(c.name): frozen \(name) moved")
                    XCTAssertNil(opt.state.first[name], "\(c.name): frozen \(name) has optimiser state")
                } else {
                    XCTAssertNotEqual(p.data, c.initial[name]!, "\(c.name): \(name) did not move")
                }
            }
        }
    }

    /// Without the fixture's frozen and no-decay rules, AdamW lands elsewhere: the test can fail.
    func testGroupRulesMatter() throws {
        let c = try loadFixture().cases[2]
        var opt = Optimizer(rule: .adamwDefault, groups: ParameterGroups(weightDecay: 0.05))
        let p = Tensor(shape: c.shapes["conv.bias"]!, data: c.initial["conv.bias"]!, requiresGrad: true)
        for (t, g) in c.gradients.enumerated() {
            p.grad = g["conv.bias"]
            opt.step([("conv.bias", p)], lr: c.learning_rates[t])
        }
        let err = zip(p.data, c.final["conv.bias"]!).map { abs($0 - $1) }.max()!
        XCTAssertGreaterThan(err, 1e-5, "decay on a bias and no clipping should change the result")
    }

    func testClipGradientNormByHand() {
        let a = Tensor(shape: [2], data: [3, 0], requiresGrad: true), b = Tensor(shape: [1], data: [1], requiresGrad: true)
        a.grad = [3, 0]; b.grad = [4]
        let norm = clipGradientNorm([a, b], maxNorm: 1)
        XCTAssertEqual(norm, 5, accuracy: 1e-6)
        let k = Float(1 / (5 + 1e-6))
        XCTAssertEqual(a.grad!, [3 * k, 0])
        XCTAssertEqual(b.grad!, [4 * k])
        b.grad = [0.5]; a.grad = [0, 0]
        clipGradientNorm([a, b], maxNorm: 1)
        XCTAssertEqual(b.grad!, [0.5], "a norm under the limit is left alone")
    }

    func testSGDFirstStepsByHand() {
        // Nesterov, momentum 0.5, decay 0.1, lr 0.1; w = 1, g = 2.
        var opt = Optimizer(rule: .sgd(momentum: 0.5, nesterov: true), groups: ParameterGroups(weightDecay: 0.1))
        let w = Tensor(shape: [1], data: [1], requiresGrad: true)
        w.grad = [2]
        opt.step([("w", w)], lr: 0.1)
        // d = 2 + 0.1 = 2.1; buf = 2.1; d = 2.1 + 0.5 * 2.1 = 3.15; w = 1 - 0.315
        XCTAssertEqual(w.data[0], 0.685, accuracy: 1e-6)
        w.grad = [2]
        opt.step([("w", w)], lr: 0.1)
        // d = 2 + 0.0685 = 2.0685; buf = 0.5 * 2.1 + 2.0685 = 3.1185; d = 2.0685 + 1.55925 = 3.62775
        XCTAssertEqual(w.data[0], 0.685 - 0.362775, accuracy: 1e-6)
    }
}

final class ScheduleTests: XCTestCase {
    func testCosineWithWarmup() {
        let s = LearningRateSchedule(base: 1e-4, shape: .cosine(end: 1e-6, afterWarmup: false), warmupEpochs: 30, warmupStart: 1e-6, epochs: 200)
        XCTAssertEqual(s.rate(epoch: 0), 1e-6, accuracy: 1e-15)
        let atWarmupEnd = 1e-6 + (1e-4 - 1e-6) * (cos(Double.pi * 30 / 200) + 1) / 2
        XCTAssertEqual(s.rate(epoch: 15), 1e-6 + (atWarmupEnd - 1e-6) / 2, accuracy: 1e-15)
        XCTAssertEqual(s.rate(epoch: 30), atWarmupEnd, accuracy: 1e-15)
        XCTAssertEqual(s.rate(epoch: 100), 1e-6 + (1e-4 - 1e-6) / 2, accuracy: 1e-15)
        XCTAssertEqual(s.rate(epoch: 200), 1e-6, accuracy: 1e-15)
    }

    func testMultiStepAndFactors() {
        let m = LearningRateSchedule(base: 0.64, shape: .multiStep(milestones: [20, 30, 40], gamma: 0.1), epochs: 45)
        XCTAssertEqual(m.rate(epoch: 19.9), 0.64, accuracy: 1e-12)
        XCTAssertEqual(m.rate(epoch: 20), 0.064, accuracy: 1e-12)
        XCTAssertEqual(m.rate(epoch: 44), 0.00064, accuracy: 1e-12)
        let t = LearningRateSchedule(base: 1e-3, shape: .constant, epochs: 10, warmupFactors: [0.01, 0.05, 0.1, 0.5, 1])
        XCTAssertEqual([0.0, 1.5, 2, 3, 4.9, 7].map { t.rate(epoch: $0) }, [1e-5, 5e-5, 1e-4, 5e-4, 1e-3, 1e-3])
    }

    func testPlateauRuleCountsWorseEpochsWithoutReset() {
        let rule = PlateauRule(patience: 3)
        var s = PlateauState()
        // best 5; worse, worse, better (no reset), worse -> 3 worse epochs: divide.
        for loss in [5.0, 6, 6, 4, 4.5] { s.observe(epochLoss: loss, rule: rule) }
        XCTAssertEqual(s.divisions, 1)
        XCTAssertEqual(s.counter, 0)
        XCTAssertEqual(s.bestLoss, 4)
        let sched = LearningRateSchedule(base: 1e-2, shape: .plateau(rule), epochs: 100)
        XCTAssertEqual(sched.rate(epoch: 10, plateauDivisions: s.divisions), 1e-3, accuracy: 1e-15)
        let coded = try! JSONDecoder().decode(PlateauState.self, from: JSONEncoder().encode(s))
        XCTAssertEqual(coded, s)
    }
}
