import Data
import Engine
import Models

/// The data-parallel equivalence check: one optimiser step of a scaled R3D-18 (synchronised batch
/// norm) and one TCLR loss, computed by the processes of `world` each on its part of a batch, and
/// by each process alone on the whole batch; how far apart they are. Run under
/// `mpirun -np N vipbench debug data-parallel-check` (the test suite does, with 2).
public struct DataParallelCheck: Codable, Sendable {
    public struct Comparison: Codable, Sendable {
        /// The loss of the whole batch, computed by one process and by the processes together.
        public var wholeLoss: Double
        public var parallelLoss: Double
        /// Relative L2 distance of the gradients, all parameters together (|a - b| / |a|), and the
        /// largest over single tensors (leaving out those whose gradient is float noise about zero:
        /// a bias before a batch norm has none in exact arithmetic).
        public var gradientRelativeError: Double
        public var worstTensorGradientRelativeError: Double
        public var weightRelativeError: Double?
        public var bufferRelativeError: Double?
        public var lossRelativeError: Double { abs(parallelLoss - wholeLoss) / max(abs(wholeLoss), 1e-30) }
        public var worst: Double {
            max(gradientRelativeError, worstTensorGradientRelativeError, weightRelativeError ?? 0, bufferRelativeError ?? 0, lossRelativeError)
        }
    }

    public var processes: Int
    public var batch: Int
    /// The clips this process had of each batch.
    public var clipsHere: Int
    public var classifier: Comparison
    public var tclr: Comparison

    /// Relative L2 distance of two equally long vectors.
    static func relative(_ a: [Float], _ b: [Float]) -> Double {
        var d = 0.0, n = 0.0
        for i in a.indices { let x = Double(a[i]), y = Double(b[i]); d += (x - y) * (x - y); n += x * x }
        return n > 0 ? (d / n).squareRoot() : d.squareRoot()
    }

    /// The relative distance of everything together and the worst single tensor's, among tensors
    /// whose norm is at least 1e-3 of the largest.
    static func compare(_ a: [(String, Tensor)], _ b: [(String, Tensor)], _ value: (Tensor) -> [Float]?) -> (all: Double, worst: Double) {
        var pairs: [([Float], [Float])] = []
        for ((_, x), (_, y)) in zip(a, b) {
            guard let u = value(x), let v = value(y) else { continue }
            pairs.append((u, v))
        }
        func norm(_ v: [Float]) -> Double { v.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot() }
        let largest = pairs.map { norm($0.0) }.max() ?? 0
        let worst = pairs.filter { norm($0.0) >= 1e-3 * largest }.map { relative($0.0, $0.1) }.max() ?? 0
        return (relative(pairs.flatMap(\.0), pairs.flatMap(\.1)), worst)
    }

    public static func run(world: Collective, batch: Int = 16, seed: UInt64 = 0) throws -> DataParallelCheck {
        let shard = 0..<batch
        let part = (shard.lowerBound + world.rank * batch / world.size)..<(shard.lowerBound + (world.rank + 1) * batch / world.size)

        // A classifier step: SGD with Nesterov momentum and weight decay.
        var config = TrainingConfiguration(model: .r3d18, classes: 10, epochs: 1, batch: batch, optimizer: .sgdNesterov,
                                           parameterGroups: ParameterGroups(weightDecay: 5e-4),
                                           schedule: LearningRateSchedule(base: 0.05, epochs: 1))
        config.width = 0.125; config.clip = "8x4"; config.shortSide = 32; config.crop = 32; config.syncBatchNorm = true
        let viewShape = [3, 8, 32, 32], per = viewShape.reduce(1, *)
        var g = SeededGenerator(seed: seed).derived("data-parallel-check")
        let data = (0..<(batch * per)).map { _ in Float(g.normal()) }
        let labels = (0..<batch).map { _ in g.int(below: 10) }
        func clips(_ r: Range<Int>, views: Int = 1, shape: [Int] = viewShape) -> ClipBatch {
            let n = views * shape.reduce(1, *)
            return ClipBatch(indices: Array(r), labels: r.map { labels[$0 % labels.count] }, shape: [r.count, views] + shape,
                             data: Array(data[(r.lowerBound * n)..<(r.upperBound * n)]))
        }
        let whole = try TrainingSetup.network(config), parallel = try TrainingSetup.network(config)
        var stepGenerator = SeededGenerator(seed: seed).derived("step")
        let wholeLoss = try stepLoss(config, network: whole, batch: clips(shard), generator: &stepGenerator)
        parallel.module.synchronizeBatchNorm(world)
        defer { parallel.module.synchronizeBatchNorm(nil) }
        stepGenerator = SeededGenerator(seed: seed).derived("step")
        var parallelLoss = try stepLoss(config, network: parallel, batch: clips(part), wholeBatchVideos: batch, world: world,
                                        generator: &stepGenerator)
        let (a, b) = (whole.module.namedParameters(), parallel.module.namedParameters())
        DataParallel.sumGradients(b.map(\.1), over: world)
        var l = [parallelLoss]; world.allSum(&l); parallelLoss = l[0]
        let gradients = compare(a, b) { $0.grad }
        var o1 = Optimizer(rule: config.optimizer, groups: config.parameterGroups), o2 = o1
        o1.step(a, lr: 0.05); o2.step(b, lr: 0.05)
        let classifier = Comparison(wholeLoss: wholeLoss, parallelLoss: parallelLoss, gradientRelativeError: gradients.all,
                                    worstTensorGradientRelativeError: gradients.worst,
                                    weightRelativeError: compare(a, b) { $0.data }.worst,
                                    bufferRelativeError: compare(whole.module.namedBuffers(), parallel.module.namedBuffers()) { $0.data }.worst)

        // TCLR's loss: 2 global views and 2 x 2 local ones (an 8-frame clip has two time steps
        // after TCLR's backbone), its embeddings gathered from every process.
        var tclrConfig = config
        tclrConfig.objective = .tclr; tclrConfig.model = .r3d18TCLR; tclrConfig.tclrLocalClips = 2
        let tclrBatch = batch / 2, views = 6
        let tw = try TrainingSetup.network(tclrConfig), tp = try TrainingSetup.network(tclrConfig)
        let tclrPart = (world.rank * tclrBatch / world.size)..<((world.rank + 1) * tclrBatch / world.size)
        let viewsShape = [3, 8, 16, 16]
        stepGenerator = SeededGenerator(seed: seed).derived("step")
        let tclrWhole = try stepLoss(tclrConfig, network: tw, batch: clips(0..<tclrBatch, views: views, shape: viewsShape),
                                     generator: &stepGenerator)
        tp.module.synchronizeBatchNorm(world)
        defer { tp.module.synchronizeBatchNorm(nil) }
        let tclrParallel = try stepLoss(tclrConfig, network: tp, batch: clips(tclrPart, views: views, shape: viewsShape),
                                        wholeBatchVideos: tclrBatch, world: world, generator: &stepGenerator)
        DataParallel.sumGradients(tp.module.parameters, over: world)
        let tclrGradients = compare(tw.module.namedParameters(), tp.module.namedParameters()) { $0.grad }
        let tclr = Comparison(wholeLoss: tclrWhole, parallelLoss: tclrParallel, gradientRelativeError: tclrGradients.all,
                              worstTensorGradientRelativeError: tclrGradients.worst)
        return DataParallelCheck(processes: world.size, batch: batch, clipsHere: part.count, classifier: classifier, tclr: tclr)
    }
}
