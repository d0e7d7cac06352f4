import Data
import Engine
import Foundation
import Models
import Safetensors
import XCTest
@testable import Training

/// A tiny rendered dataset shared by the tests of this file (rendered once).
enum TinyMotion {
    static let root: String = {
        let dir = NSTemporaryDirectory() + "vipbench-training-tests-\(ProcessInfo.processInfo.processIdentifier)"
        var o = SyntheticDataset.Options()
        o.classes = 4; o.perClass = (4, 2, 0); o.width = 48; o.height = 32
        _ = try! SyntheticDataset.generate(into: dir, options: o)
        return dir
    }()

    static func configuration(epochs: Int = 2, seed: UInt64 = 7) -> TrainingConfiguration {
        var c = TrainingConfiguration(model: .r3d18, classes: 4, epochs: epochs, batch: 4,
                                      optimizer: .sgdNesterov, parameterGroups: ParameterGroups(weightDecay: 5e-4),
                                      schedule: LearningRateSchedule(base: 0.05, shape: .cosine(end: 0, afterWarmup: false), epochs: epochs))
        c.width = 0.0625; c.clip = "4x2"; c.shortSide = 20; c.crop = 16; c.flipProbability = 0
        c.normalisation = .slowfast; c.seed = seed; c.checkpointEverySteps = 1
        return c
    }

    static func loaders(_ c: TrainingConfiguration) throws -> (ClipLoader, ClipLoader) {
        let ds = try VideoDataset.challenge(root: root)
        let train = ClipLoader(items: ds.items(split: "train"),
                               sampler: ClipSampler(clip: c.clipSpec!, shortSide: c.shortSide, mode: .train(c.augmentation),
                                                    normalisation: c.normalisation.value),
                               batchSize: c.batch, workers: 2, seed: c.seed, shuffle: true, cacheBytes: 64 << 20)
        let val = ClipLoader(items: ds.items(split: "val"),
                             sampler: ClipSampler(clip: c.clipSpec!, shortSide: c.shortSide,
                                                  mode: .test(crops: 1, clips: 1, rule: .slowfastOffset, cropRule: .slowfast, size: c.crop),
                                                  normalisation: c.normalisation.value),
                             batchSize: 8, workers: 2, seed: c.seed, shuffle: false, cacheBytes: 64 << 20)
        return (train, val)
    }

    static func model(_ c: TrainingConfiguration) -> VideoResNet {
        var g = SeededGenerator(seed: c.seed).derived("init")
        return VideoResNet(inputChannels: 3, classes: c.classes, width: c.width, generator: &g)
    }
}

struct Interrupt: Error {}

final class ResumeTests: XCTestCase {
    func weights(_ m: Module) -> [String: [Float]] {
        Dictionary(uniqueKeysWithValues: m.stateDict().map { ($0.0, $0.1.data) })
    }

    func run(_ c: TrainingConfiguration, dir: String, resume: Bool, stopAfterStep: Int? = nil) throws -> (VideoResNet, TrainingSummary) {
        let (train, val) = try TinyMotion.loaders(c)
        let m = TinyMotion.model(c)
        let s = try Training.train(c, network: .classifier(m), train: train, validation: val, directory: RunDirectory(dir),
                                   resume: resume, commit: "test") { event in
            if case .checkpoint = event, let stop = stopAfterStep, case let cp = try TrainingCheckpoint(contentsOf: dir + "/latest.safetensors"),
               cp.step == stop { throw Interrupt() }
        }
        return (m, s)
    }

    /// Interrupted after step 3 of 8 (mid-epoch 1) and resumed: bit-identical weights, buffers
    /// and optimiser state to the uninterrupted run; and a different seed gives other weights.
    func testResumeMidEpochIsBitIdentical() throws {
        let c = TinyMotion.configuration()
        let base = NSTemporaryDirectory() + "vipbench-resume-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: base) }
        let (full, summary) = try run(c, dir: base + "/full", resume: false)
        XCTAssertEqual(summary.steps, 8)
        XCTAssertThrowsError(try run(c, dir: base + "/cut", resume: false, stopAfterStep: 3)) { XCTAssert($0 is Interrupt) }
        let cut = try TrainingCheckpoint(contentsOf: base + "/cut/latest.safetensors")
        XCTAssertEqual([cut.epoch, cut.nextBatch, cut.step], [0, 3, 3])
        let (resumed, s2) = try run(c, dir: base + "/cut", resume: true)
        XCTAssertEqual(s2.steps, 8)
        XCTAssertEqual(weights(resumed), weights(full), "resumed weights differ from the uninterrupted run's")
        XCTAssertEqual(s2.lastTop1, summary.lastTop1)
        // The curve survives the kill: both epochs once, with the uninterrupted run's losses and
        // validation (only the timings differ).
        func curve(_ h: [EpochRecord]) -> [String] { h.map { "\($0.epoch) \($0.step) \($0.meanLoss.bitPattern) \($0.lr) \(String(describing: $0.validation))" } }
        XCTAssertEqual(summary.history.map(\.epoch), [0, 1])
        XCTAssertEqual(curve(s2.history), curve(summary.history))
        XCTAssertEqual(try TrainingCheckpoint(contentsOf: base + "/cut/latest.safetensors").history.map(\.step), [4, 8])
        // The curve read from the header alone is the same, and a file cut inside its header, or
        // a safetensors file that is not a training checkpoint, is an error naming the file.
        let latest = base + "/cut/latest.safetensors"
        XCTAssertEqual(curve(try TrainingCheckpoint.history(ofFileAt: latest)), curve(summary.history))
        let bytes = try XCTUnwrap(FileManager.default.contents(atPath: latest))
        _ = FileManager.default.createFile(atPath: base + "/cut.safetensors", contents: bytes.prefix(40))
        XCTAssertThrowsError(try TrainingCheckpoint.history(ofFileAt: base + "/cut.safetensors")) {
            XCTAssertTrue("\($0)".contains(base + "/cut.safetensors") && "\($0)".contains("cut short"), "\($0)")
        }
        try SafetensorsFile(tensors: [:], metadata: ["format": "something else"]).write(to: base + "/foreign.safetensors")
        XCTAssertThrowsError(try TrainingCheckpoint.history(ofFileAt: base + "/foreign.safetensors")) {
            XCTAssertTrue("\($0)".contains("not a vipbench training checkpoint"), "\($0)")
        }
        // A finished run asked to resume returns at once with its whole curve.
        let (_, s3) = try run(c, dir: base + "/cut", resume: true)
        XCTAssertEqual(curve(s3.history), curve(summary.history))
        let a = try TrainingCheckpoint(contentsOf: base + "/full/latest.safetensors")
        let b = try TrainingCheckpoint(contentsOf: base + "/cut/latest.safetensors")
        XCTAssertEqual(a.optimizer, b.optimizer)
        XCTAssertEqual(a.weights, b.weights)

        let (other, _) = try run(TinyMotion.configuration(seed: 8), dir: base + "/other", resume: false)
        XCTAssertNotEqual(weights(other), weights(full))
    }

    func testResumeRefusesAnotherConfigurationAndNamesTheSetting() throws {
        let dir = NSTemporaryDirectory() + "vipbench-resume-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var c = TinyMotion.configuration(epochs: 1)
        XCTAssertThrowsError(try run(c, dir: dir, resume: false, stopAfterStep: 1))
        c.batch = 2
        c.optimizer = .adamDefault
        XCTAssertThrowsError(try run(c, dir: dir, resume: true)) { error in
            let text = "\(error)"
            XCTAssert(text.contains("latest.safetensors"), text)
            XCTAssert(text.contains("batch: 4 in the checkpoint, 2 now"), text)
            XCTAssert(text.contains("optimizer"), text)
        }
    }

    func testBadCheckpointsNameTheFileAndTheKey() throws {
        let dir = NSTemporaryDirectory() + "vipbench-ckpt-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let c = TinyMotion.configuration()
        let m = TinyMotion.model(c)
        let good = TrainingCheckpoint(configuration: c, epoch: 0, nextBatch: 1, step: 1, epochLossSum: 1.5, epochLossCount: 1,
                                      plateau: PlateauState(), bestTop1: nil, bestEpoch: nil, lastTop1: nil, commit: "x", model: m,
                                      optimizer: OptimizerState())
        try good.write(to: dir + "/good.safetensors")
        let back = try TrainingCheckpoint(contentsOf: dir + "/good.safetensors")
        XCTAssertEqual(back.configuration, c)
        XCTAssertEqual(back.epochLossSum, 1.5)
        // Truncated.
        let bytes = try Data(contentsOf: URL(fileURLWithPath: dir + "/good.safetensors"))
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: dir + "/cut.safetensors"))
        XCTAssertThrowsError(try TrainingCheckpoint(contentsOf: dir + "/cut.safetensors")) {
            XCTAssert("\($0)".contains("cut.safetensors"), "\($0)")
        }
        // Foreign: plain weights, no training metadata.
        try Checkpoint.save(m, to: dir + "/weights.safetensors")
        XCTAssertThrowsError(try TrainingCheckpoint(contentsOf: dir + "/weights.safetensors")) {
            XCTAssert("\($0)".contains("weights.safetensors") && "\($0)".contains("not a vipbench training checkpoint"), "\($0)")
        }
        // Wrong shape: a wider model.
        var wide = c; wide.width = 0.125
        XCTAssertThrowsError(try back.restore(into: TinyMotion.model(wide), path: dir + "/good.safetensors")) {
            XCTAssert("\($0)".contains("good.safetensors") && "\($0)".contains("'model/stem.0.weight' has shape"), "\($0)")
        }
    }

    func testFineTuneInitLoadsWhatMatches() throws {
        let dir = NSTemporaryDirectory() + "vipbench-init-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var g = SeededGenerator(seed: 1)
        let pre = TCLRNetwork(width: 0.0625, generator: &g)
        try Checkpoint.save(pre, to: dir + "/pre.safetensors")
        var g2 = SeededGenerator(seed: 2)
        let fine = VideoResNet(classes: 4, width: 0.0625, tclr: true, generator: &g2)
        let r = try initialise(fine, from: dir + "/pre.safetensors")
        XCTAssertEqual(Set(r.fresh), ["fc.weight", "fc.bias"])
        XCTAssert(r.skipped.contains("head.fc1.weight") && r.skipped.contains("fc.weight"), "\(r.skipped)")
        XCTAssertEqual(fine.stem.stateDict().first!.1.data, pre.backbone.stem.stateDict().first!.1.data)
    }

    /// Row 5's pretraining: TCLR on an R3D-50 with the TCLR R3D-18's unstrided, dilated stage 4
    /// keeps time / 4 steps (one per local clip) and a 4x wider head; a plain R3D-50 then loads
    /// every backbone tensor (stride and dilation change no shape) and starts only its classifier.
    func testTCLRPretrainsAnR3D50ThatAPlainR3D50FineTunesFromWhole() throws {
        let dir = NSTemporaryDirectory() + "vipbench-init50-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var g = SeededGenerator(seed: 3)
        let pre = TCLRNetwork(backbone: .r3d50, width: 0.0625, generator: &g)
        XCTAssertEqual(pre.head.fc1.weight.shape, [128, 128])   // 512 x 4 x 1/16 features
        let steps = Autograd.withoutGradients { pre.global(Tensor(randomNormal: [2, 3, 8, 16, 16], generator: &g)).steps }
        XCTAssertEqual(steps.count, 2)
        XCTAssertEqual(steps[0].shape, [2, 8])
        let views = Tensor(randomNormal: [4, 6, 3, 8, 16, 16], generator: &g)
        XCTAssert(pre.loss(views, temperature: 0.1).scalar.isFinite)
        try Checkpoint.save(pre, to: dir + "/pre.safetensors")
        var g2 = SeededGenerator(seed: 4)
        let fine = ModelZoo.make(.r3d50, classes: 4, width: 0.0625, generator: &g2) as! VideoResNet
        let r = try initialise(fine, from: dir + "/pre.safetensors")
        XCTAssertEqual(Set(r.fresh), ["fc.weight", "fc.bias"])
        XCTAssertEqual(r.loaded.count, fine.stateDict().count - 2)
        XCTAssertEqual(fine.layer4[0].conv2.stateDict().first!.1.data, pre.backbone.layer4[0].conv2.stateDict().first!.1.data)
        var config = TrainingConfiguration(model: .i3d, classes: 4, epochs: 1, batch: 4, optimizer: .adamDefault,
                                           parameterGroups: ParameterGroups(weightDecay: 0),
                                           schedule: LearningRateSchedule(base: 1e-3, shape: .constant, epochs: 1))
        config.objective = .tclr; config.clip = "8x2"; config.tclrLocalClips = 2
        XCTAssertThrowsError(try config.validate()) { XCTAssert("\($0)".contains("not 'i3d'"), "\($0)") }
        config.model = .r3d50
        XCTAssertNoThrow(try config.validate())
    }
}

final class LoaderEpochTests: XCTestCase {
    func testEpochFromBatchKEqualsTheTailAndCancelledEpochsStopTheirWorkers() throws {
        let c = TinyMotion.configuration()
        let (train, _) = try TinyMotion.loaders(c)
        let whole = Array(train.batches(epoch: 1)).map(\.data)
        XCTAssertEqual(whole.count, 4)
        XCTAssertEqual(Array(train.batches(epoch: 1, from: 2)).map(\.data), Array(whole[2...]))
        let epoch = train.batches(epoch: 2)
        XCTAssertNotNil(epoch.next())
        epoch.cancel()
        let deadline = Date().addingTimeInterval(5)
        while epoch.runningWorkers > 0 && Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
        XCTAssertEqual(epoch.runningWorkers, 0, "workers of an abandoned epoch are still running")
        XCTAssertNil(epoch.next())
    }

    func testTCLRViewsAndRepeatedAugmentation() throws {
        let ds = try VideoDataset.challenge(root: TinyMotion.root)
        let item = ds.items(split: "train")[0]
        let aug = AugmentationConfig(outputSize: 16, crop: .randomFixed(size: 16), flipProbability: 0)
        var s = ClipSampler(clip: ClipSpec(frames: 8, skip: 2), shortSide: 20, mode: .tclr(aug, localClips: 2))
        XCTAssertEqual(s.viewsPerVideo, 6)
        var g = SeededGenerator(seed: 1)
        XCTAssertEqual(try s.sample(item, cache: nil, generator: &g).count, 6 * 3 * 8 * 16 * 16)
        s.mode = .train(aug); s.augmentedCopies = 3
        XCTAssertEqual(s.viewsPerVideo, 3)
        var g2 = SeededGenerator(seed: 1)
        let copies = try s.sample(item, cache: nil, generator: &g2)
        let per = 3 * 8 * 16 * 16
        XCTAssertEqual(copies.count, 3 * per)
        XCTAssertNotEqual(Array(copies[0..<per]), Array(copies[per..<(2 * per)]), "copies are augmented independently")
    }
}

/// A classifier without batch norm, so micro-batches must reproduce the whole batch's gradient.
final class FlatLinear: Module, Layer {
    let fc: Linear
    init(_ inputs: Int, _ classes: Int, generator g: inout SeededGenerator) { fc = Linear(inputs, classes, generator: &g) }
    func callAsFunction(_ x: Tensor) -> Tensor { fc(x.flattened()) }
}

final class AccumulationTests: XCTestCase {
    func testMicroBatchesGiveTheBigBatchGradient() throws {
        var c = TinyMotion.configuration()
        c.batch = 8
        let (b, viewShape) = (8, [3, 2, 4, 4])
        var g = SeededGenerator(seed: 5)
        let data = (0..<(b * 96)).map { _ in Float(g.normal()) }
        let batch = ClipBatch(indices: Array(0..<b), labels: (0..<b).map { $0 % 4 }, shape: [b, 1] + viewShape, data: data, failures: [])
        var grads: [[Float]] = []
        var losses: [Double] = []
        for parts in [1, 4] {
            c.accumulate = parts
            var g0 = SeededGenerator(seed: 1)
            let m = FlatLinear(96, 4, generator: &g0)
            var sg = SeededGenerator(seed: 2)
            losses.append(try stepLoss(c, network: .classifier(m), batch: batch, generator: &sg))
            grads.append(m.fc.weight.grad! + m.fc.bias!.grad!)
        }
        XCTAssertEqual(losses[0], losses[1], accuracy: 1e-6)
        let scale = grads[0].map { abs($0) }.max()!
        XCTAssertLessThan(zip(grads[0], grads[1]).map { abs($0 - $1) }.max()! / scale, 1e-5)
    }
}
