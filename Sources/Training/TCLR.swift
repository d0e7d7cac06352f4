import Engine
import Models

/// TCLR's pretraining network (DAVEISHAN/TCLR `tclr_pretraining`): the TCLR R3D-18 backbone with
/// spatial-only average pooling (time kept) and a projection head shared by every output:
/// linear 512 -> 512 (bias), BN, ReLU, linear 512 -> 128 (no bias), BN, L2 normalisation.
///
/// The report also pretrains an R3D-50 with TCLR; TCLR's code has no R3D-50, so the `r3d50`
/// backbone takes the R3D-18's one change, stage 4 unstrided in time with dilation 2 (time / 4
/// steps, as the losses need), and a head of its feature width (2048 -> 2048 -> 128 at width 1).
/// Stride and dilation do not change a tensor's shape, so a plain R3D-50 fine-tunes from it with
/// every backbone tensor loaded.
public final class TCLRNetwork: Module {
    public let backbone: VideoResNet
    public let head: ProjectionHead

    /// The backbones TCLR pretrains.
    public static let backbones: [Architecture] = [.r3d18TCLR, .r3d50]

    /// `width` scales the backbone and the head alike (512 and 128 at width 1).
    public init(backbone architecture: Architecture = .r3d18TCLR, inputChannels: Int = 3, width: Double = 1,
                generator g: inout SeededGenerator) {
        precondition(Self.backbones.contains(architecture), "TCLR pretrains \(Self.backbones), not \(architecture)")
        // The backbone's classifier is never used in pretraining; one class keeps it small (a
        // fine-tuned classifier, of another shape, starts fresh).
        let bottleneck = architecture == .r3d50
        backbone = VideoResNet(inputChannels: inputChannels, classes: 1, block: bottleneck ? .bottleneck : .basic,
                               blocks: bottleneck ? [3, 4, 6, 3] : [2, 2, 2, 2], width: width, tclr: true, generator: &g)
        let features = max(1, Int((512 * width).rounded())) * (bottleneck ? 4 : 1)
        head = ProjectionHead(features, hidden: features, output: max(1, Int((128 * width).rounded())), generator: &g)
    }

    /// Backbone features pooled over space only: B x C x T'.
    func temporalFeatures(_ x: Tensor) -> Tensor {
        let f = backbone.features(x).adaptiveAvgPool3d([nil, 1, 1])
        return f.reshaped([f.shape[0], f.shape[1], f.shape[2]])
    }

    /// A local clip's embedding: the head on the time-averaged features (B x D).
    public func local(_ x: Tensor) -> Tensor { head(temporalFeatures(x).mean(axes: [2])) }

    /// A global clip's embeddings: the time-averaged one and one per time step, each through the
    /// head on its own (as the reference calls it, so each gets its own batch statistics).
    public func global(_ x: Tensor) -> (pooled: Tensor, steps: [Tensor]) {
        let f = temporalFeatures(x)
        let (b, c, t) = (f.shape[0], f.shape[1], f.shape[2])
        let steps = (0..<t).map { i in head(f.sliced(axis: 2, i, i + 1).reshaped([b, c])) }
        return (head(f.mean(axes: [2])), steps)
    }

    /// TCLR's loss on a batch B x views x C x T x H x W with views (global aug 0, global aug 1,
    /// local 0 aug 0, local 0 aug 1, local 1 aug 0, ...): each of the views is its own forward pass
    /// over the B videos, as in the reference (batch statistics per clip type).
    ///
    /// With several processes (data-parallel), each embeds its own videos and the embeddings of
    /// every process are gathered before the loss, so every video's negatives are the whole
    /// batch's, as in one process: each process computes the whole batch's loss.
    public func loss(_ input: Tensor, temperature: Float, world: Collective = SingleProcess()) -> Tensor {
        let (b, views) = (input.shape[0], input.shape[1])
        let viewShape = Array(input.shape[2...])
        let per = viewShape.reduce(1, *)
        precondition(views >= 4 && views % 2 == 0, "TCLR needs 2 global and at least 2 local views, got \(views)")
        func view(_ v: Int) -> Tensor {
            var d = [Float](repeating: 0, count: b * per)
            for i in 0..<b { for k in 0..<per { d[i * per + k] = input.data[(i * views + v) * per + k] } }
            return Tensor(shape: [b] + viewShape, data: d)
        }
        let localCount = views / 2 - 1
        let globals = (0..<2).map { global(view($0)) }
        // locals[a][k]: local clip k, augmentation a.
        let locals = (0..<2).map { a in (0..<localCount).map { k in local(view(2 + 2 * k + a)) } }
        func all(_ t: Tensor) -> Tensor { t.gathered(world) }
        return TCLRLoss.total(globalPooled: globals.map { all($0.pooled) }, globalSteps: globals.map { $0.steps.map(all) },
                              locals: locals.map { $0.map(all) }, temperature: temperature)
    }
}

/// linear -> BN -> ReLU -> linear (no bias) -> BN -> L2 normalisation, named `fc1`, `bn1`, `fc2`, `bn2`.
public final class ProjectionHead: Module, Layer {
    public let fc1: Linear
    public let bn1: BatchNorm
    public let fc2: Linear
    public let bn2: BatchNorm

    public init(_ input: Int, hidden: Int, output: Int, generator g: inout SeededGenerator) {
        fc1 = Linear(input, hidden, bias: true, generator: &g)
        bn1 = BatchNorm(hidden)
        fc2 = Linear(hidden, output, bias: false, generator: &g)
        bn2 = BatchNorm(output)
    }

    public func callAsFunction(_ x: Tensor) -> Tensor { bn2(fc2(bn1(fc1(x)).relu())).l2Normalized() }
}

extension ProjectionHead: ShapeTraceable {
    /// The same layers in the same order as the forward, so its counts cannot drift from it.
    public func trace(_ input: [Int], _ t: inout CostTrace, name: String) -> [Int] {
        let p = name.isEmpty ? "" : name + "."
        let h = bn1.trace(fc1.trace(input, &t, name: p + "fc1"), &t, name: p + "bn1")
        return bn2.trace(fc2.trace(h, &t, name: p + "fc2"), &t, name: p + "bn2")
    }
}

/// The four terms of TCLR's loss, as its `train_gen_all_step.py` computes them (all weights 1).
public enum TCLRLoss {
    /// SimCLR's NT-Xent as TCLR calls it: rows R = [zj; zi] (2N x D, already L2-normalised), dot
    /// products over the temperature, each row's positive its partner in the other view, its own
    /// similarity left out; cross-entropy summed and divided by 2N.
    public static func ntXent(_ zi: Tensor, _ zj: Tensor, temperature: Float) -> Tensor {
        let n = zi.shape[0]
        let r = Tensor.concatenated([zj, zi], axis: 0)
        let logits = r.matmul(r.transposed(0, 1)) * (1 / temperature) + selfMask(2 * n)
        let labels = (0..<(2 * n)).map { $0 < n ? $0 + n : $0 - n }
        return logits.crossEntropy(labels: labels)
    }

    /// -1e9 on the diagonal of a k x k (or B x k x k) matrix: a row's own entry leaves its softmax.
    static func selfMask(_ k: Int, batch: Int? = nil) -> Tensor {
        var d = [Float](repeating: 0, count: (batch ?? 1) * k * k)
        for b in 0..<(batch ?? 1) { for i in 0..<k { d[b * k * k + i * k + i] = -1e9 } }
        return Tensor(shape: batch.map { [$0, k, k] } ?? [k, k], data: d)
    }

    /// Stacks B x D tensors into B x K x D.
    static func stack(_ parts: [Tensor]) -> Tensor {
        let (b, d) = (parts[0].shape[0], parts[0].shape[1])
        return Tensor.concatenated(parts.map { $0.reshaped([b, 1, d]) }, axis: 1)
    }

    /// 1. Instance contrast between the two augmented global clips: NT-Xent over the batch.
    public static func globalInstance(_ g0: Tensor, _ g1: Tensor, temperature: Float) -> Tensor {
        ntXent(g0, g1, temperature: temperature)
    }

    /// 2. Instance contrast among local clips across videos: NT-Xent for every ordered pair of the
    /// 2K local embedding sets except a set with itself, divided by 4. NT-Xent is symmetric, so
    /// this is half the sum over unordered pairs.
    public static func localInstance(_ locals: [[Tensor]], temperature: Float) -> Tensor {
        let sets = locals.flatMap { $0 }
        var terms: [Tensor] = []
        for i in 0..<sets.count { for j in (i + 1)..<sets.count { terms.append(ntXent(sets[i], sets[j], temperature: temperature)) } }
        return sum(terms) * 0.5
    }

    /// 3. Local-local temporal contrast inside each video: NT-Xent with N = K between the video's
    /// K local clips under augmentation 0 and under augmentation 1 (the same clip is the positive,
    /// the video's other clips the negatives), summed over the videos.
    public static func localTemporal(_ locals: [[Tensor]], temperature: Float) -> Tensor {
        let d0 = stack(locals[0]), d1 = stack(locals[1])            // B x K x D
        let (b, k) = (d0.shape[0], d0.shape[1])
        let r = Tensor.concatenated([d1, d0], axis: 1)                  // B x 2K x D
        let logits = r.matmul(r.transposed(1, 2)) * (1 / temperature) + selfMask(2 * k, batch: b)
        let labels = (0..<b).flatMap { _ in (0..<(2 * k)).map { $0 < k ? $0 + k : $0 - k } }
        // crossEntropy averages over the B x 2K rows; the reference sums each video's mean.
        return logits.reshaped([b * 2 * k, 2 * k]).crossEntropy(labels: labels) * Float(b)
    }

    /// 4. Global-local temporal contrast: for each (global aug, local aug), the K x K similarity
    /// of the global clip's K time steps with the K local clips; cross-entropy with the diagonal as
    /// target over rows and over columns, summed and divided by 2B; the four combinations summed.
    public static func globalLocal(_ globalSteps: [[Tensor]], _ locals: [[Tensor]], temperature: Float) -> Tensor {
        var terms: [Tensor] = []
        for a in 0..<2 {
            for c in 0..<2 {
                let s = stack(globalSteps[a]), l = stack(locals[c])  // B x K x D
                let (b, k) = (s.shape[0], s.shape[1])
                let sim = s.matmul(l.transposed(1, 2))               // B x K x K
                let both = Tensor.concatenated([sim, sim.transposed(1, 2)], axis: 0).reshaped([2 * b * k, k]) * (1 / temperature)
                let labels = (0..<(2 * b)).flatMap { _ in Array(0..<k) }
                // Sum over the 2BK rows / 2B = mean x K.
                terms.append(both.crossEntropy(labels: labels) * Float(k))
            }
        }
        return sum(terms)
    }

    public static func total(globalPooled: [Tensor], globalSteps: [[Tensor]], locals: [[Tensor]], temperature: Float) -> Tensor {
        precondition(globalSteps[0].count == locals[0].count,
                     "TCLR: the global clip has \(globalSteps[0].count) time steps but there are \(locals[0].count) local clips")
        return globalInstance(globalPooled[0], globalPooled[1], temperature: temperature)
            + localInstance(locals, temperature: temperature)
            + localTemporal(locals, temperature: temperature)
            + globalLocal(globalSteps, locals, temperature: temperature)
    }

    static func sum(_ terms: [Tensor]) -> Tensor { terms.dropFirst().reduce(terms[0], +) }
}
