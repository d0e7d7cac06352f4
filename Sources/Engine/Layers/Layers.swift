import Foundation

/// How a layer's weights are first drawn.
public enum Initialisation: Sendable {
    /// Kaiming normal, fan-out mode, ReLU gain: std = sqrt(2 / (out * kernel volume)) (torchvision's
    /// video ResNets).
    case kaimingNormalFanOut
    /// Normal with this standard deviation (torchvision's video ResNet classifier: 0.01).
    case normal(Float)
    /// Truncated normal (+-2 std) with this standard deviation (MViT's linear layers: 0.02).
    case truncatedNormal(Float)
    /// PyTorch's default for conv and linear: uniform(+-1 / sqrt(fan_in)) (kaiming_uniform, a = sqrt 5).
    case pytorchDefault

    func draw(_ shape: [Int], fanIn: Int, fanOut: Int, generator: inout SeededGenerator) -> Tensor {
        let n = shape.reduce(1, *)
        var d = [Float](repeating: 0, count: n)
        switch self {
        case .kaimingNormalFanOut:
            let std = (2 / Double(max(fanOut, 1))).squareRoot()
            for i in 0..<n { d[i] = Float(generator.normal() * std) }
        case .normal(let std):
            for i in 0..<n { d[i] = Float(generator.normal()) * std }
        case .truncatedNormal(let std):
            for i in 0..<n { d[i] = Float(generator.truncatedNormal(std: Double(std))) }
        case .pytorchDefault:
            let bound = 1 / Double(max(fanIn, 1)).squareRoot()
            for i in 0..<n { d[i] = Float(generator.uniform(-bound, bound)) }
        }
        return Tensor(shape: shape, data: d, requiresGrad: true)
    }
}

/// 3D convolution: weight O x C/groups x kT x kH x kW, optional bias O.
public final class Conv3d: Module, Layer {
    public let weight: Tensor
    public let bias: Tensor?
    public let stride: [Int]
    public let padding: Padding3D
    /// TF "SAME" padding computed from each input's size (I3D), instead of `padding`.
    public let samePadding: Bool
    public let dilation: [Int]
    public let groups: Int

    public init(_ inChannels: Int, _ outChannels: Int, kernel: [Int], stride: [Int] = [1, 1, 1],
                padding: [Int] = [0, 0, 0], samePadding: Bool = false, dilation: [Int] = [1, 1, 1],
                groups: Int = 1, bias: Bool = false, initialisation: Initialisation = .kaimingNormalFanOut,
                generator: inout SeededGenerator) {
        let kvol = kernel.reduce(1, *)
        weight = initialisation.draw([outChannels, inChannels / groups] + kernel, fanIn: inChannels / groups * kvol,
                                     fanOut: outChannels * kvol, generator: &generator)
        self.bias = bias ? Tensor(zeros: [outChannels], requiresGrad: true) : nil
        self.stride = stride
        self.padding = .symmetric(padding)
        self.samePadding = samePadding
        self.dilation = dilation
        self.groups = groups
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        let pad = samePadding
            ? Padding3D.same(input: Array(x.shape[2...]), kernel: Array(weight.shape[2...]), stride: stride, dilation: dilation)
            : padding
        return x.conv3d(weight: weight, bias: bias, stride: stride, padding: pad, dilation: dilation, groups: groups)
    }
}

/// Batch normalisation over channels (dimension 1) of N x C x ... inputs.
public final class BatchNorm: Module, Layer {
    public let weight: Tensor
    public let bias: Tensor
    public let running_mean: Tensor
    public let running_var: Tensor
    public let num_batches_tracked: Tensor
    public let momentum: Float
    public let eps: Float
    /// Set for synchronised batch norm in data-parallel training (statistics over every process).
    public var collective: Collective?

    public init(_ channels: Int, momentum: Float = 0.1, eps: Float = 1e-5) {
        weight = Tensor(filling: 1, shape: [channels], requiresGrad: true)
        bias = Tensor(zeros: [channels], requiresGrad: true)
        running_mean = Tensor(zeros: [channels])
        running_var = Tensor(filling: 1, shape: [channels])
        num_batches_tracked = Tensor(zeros: [])
        for b in [running_mean, running_var, num_batches_tracked] { b.isBuffer = true }
        self.momentum = momentum
        self.eps = eps
    }

    public func callAsFunction(_ x: Tensor) -> Tensor { callAsFunction(x, relu: false) }

    /// With `relu`, max(batchNorm(x), 0) as one op.
    public func callAsFunction(_ x: Tensor, relu: Bool) -> Tensor {
        if training { num_batches_tracked.data[0] += 1 }
        return x.batchNorm(weight: weight, bias: bias, runningMean: running_mean, runningVar: running_var,
                           training: training, momentum: momentum, eps: eps, collective: collective, relu: relu)
    }
}

/// Layer normalisation over the last dimension.
public final class LayerNorm: Module, Layer {
    public let weight: Tensor
    public let bias: Tensor
    public let eps: Float

    public init(_ dim: Int, eps: Float = 1e-5) {
        weight = Tensor(filling: 1, shape: [dim], requiresGrad: true)
        bias = Tensor(zeros: [dim], requiresGrad: true)
        self.eps = eps
    }

    public func callAsFunction(_ x: Tensor) -> Tensor { x.layerNorm(weight: weight, bias: bias, eps: eps) }
}

/// `x W^T + b`: weight out x in, bias out.
public final class Linear: Module, Layer {
    public let weight: Tensor
    public let bias: Tensor?

    public init(_ inFeatures: Int, _ outFeatures: Int, bias: Bool = true,
                initialisation: Initialisation = .pytorchDefault, generator: inout SeededGenerator) {
        weight = initialisation.draw([outFeatures, inFeatures], fanIn: inFeatures, fanOut: outFeatures, generator: &generator)
        self.bias = bias ? Tensor(zeros: [outFeatures], requiresGrad: true) : nil
    }

    public func callAsFunction(_ x: Tensor) -> Tensor { x.linear(weight: weight, bias: bias) }
}

public final class ReLU: Module, Layer {
    public override init() {}
    public func callAsFunction(_ x: Tensor) -> Tensor { x.relu() }
}

public final class GELU: Module, Layer {
    public override init() {}
    public func callAsFunction(_ x: Tensor) -> Tensor { x.gelu() }
}

/// Inverted dropout as a layer: no weights, but it holds its place in a `Sequential` so that the
/// indices of the layers after it match PyTorch's (`mlp.3`, `head.1`). Owns its mask generator,
/// so every training step draws a new mask; a training loop reseeds it per step (`Stochastic`).
public final class Dropout: Module, Layer, Stochastic {
    public let p: Float
    private var generator: SeededGenerator

    public init(_ p: Float, generator: SeededGenerator) {
        self.p = p
        self.generator = generator
    }

    public func callAsFunction(_ x: Tensor) -> Tensor { x.dropout(p, training: training, generator: &generator) }

    public func reseed(_ generator: SeededGenerator) { self.generator = generator }
}

extension Dropout: ShapeTraceable {
    public func trace(_ input: [Int], _ t: inout CostTrace, name: String) -> [Int] { input }
}
