/// A Float32 tensor, row-major and contiguous, with up to 6 dimensions. Video activations are
/// N x C x T x H x W (PyTorch's order), so shapes and weights line up with the reference models.
///
/// A tensor produced by an operation while gradients are recorded remembers its inputs and how to
/// send a gradient back to them (`Autograd`). Tensors are reference types so that a graph can share
/// them; the values themselves are a copy-on-write array.
public final class Tensor {
    public private(set) var shape: [Int]
    public var data: [Float]
    /// The accumulated gradient (same shape), after `backward()`.
    public var grad: [Float]?
    /// Leaves that want gradients (parameters); results of ops on them inherit it.
    public var requiresGrad: Bool
    /// A module's buffer (running statistics): saved in checkpoints, never trained.
    public var isBuffer = false

    /// How this tensor was made, while gradients were recorded.
    var parents: [Tensor] = []
    var backwardFn: ((Tensor) -> Void)?

    public init(shape: [Int], data: [Float], requiresGrad: Bool = false) {
        precondition(shape.count <= 6, "tensors have at most 6 dimensions, got \(shape)")
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in \(shape)")
        precondition(data.count == shape.reduce(1, *), "\(data.count) values for shape \(shape)")
        self.shape = shape
        self.data = data
        self.requiresGrad = requiresGrad
    }

    public convenience init(zeros shape: [Int], requiresGrad: Bool = false) {
        self.init(shape: shape, data: [Float](repeating: 0, count: shape.reduce(1, *)), requiresGrad: requiresGrad)
    }

    public convenience init(filling value: Float, shape: [Int], requiresGrad: Bool = false) {
        self.init(shape: shape, data: [Float](repeating: value, count: shape.reduce(1, *)), requiresGrad: requiresGrad)
    }

    public convenience init(scalar: Float) { self.init(shape: [], data: [scalar]) }

    /// Standard-normal values times `std`, from a seeded generator.
    public convenience init(randomNormal shape: [Int], std: Float = 1, generator: inout SeededGenerator,
                            requiresGrad: Bool = false) {
        let n = shape.reduce(1, *)
        var d = [Float](repeating: 0, count: n)
        for i in 0..<n { d[i] = Float(generator.normal()) * std }
        self.init(shape: shape, data: d, requiresGrad: requiresGrad)
    }

    /// Uniform values in [low, high), from a seeded generator.
    public convenience init(randomUniform shape: [Int], low: Float = 0, high: Float = 1,
                            generator: inout SeededGenerator, requiresGrad: Bool = false) {
        let n = shape.reduce(1, *)
        var d = [Float](repeating: 0, count: n)
        for i in 0..<n { d[i] = Float(generator.uniform(Double(low), Double(high))) }
        self.init(shape: shape, data: d, requiresGrad: requiresGrad)
    }

    public var count: Int { data.count }
    public var rank: Int { shape.count }
    /// The single value of a one-element tensor.
    public var scalar: Float {
        precondition(data.count == 1, "scalar of a tensor with shape \(shape)")
        return data[0]
    }

    /// Resets the gradient (before the next backward pass of a training step).
    public func zeroGrad() { grad = nil }

    /// Replaces the values in place (optimisers, checkpoint loading); the shape must match.
    public func assign(_ values: [Float]) {
        precondition(values.count == data.count, "assign: \(values.count) values for shape \(shape)")
        data = values
    }

    /// Row-major strides.
    public static func strides(_ shape: [Int]) -> [Int] {
        var s = [Int](repeating: 1, count: shape.count)
        var acc = 1
        for i in stride(from: shape.count - 1, through: 0, by: -1) { s[i] = acc; acc *= shape[i] }
        return s
    }

    /// A tensor sharing no graph with this one (the values are copied on write).
    public func detached() -> Tensor { Tensor(shape: shape, data: data) }
}

extension Tensor: CustomStringConvertible {
    public var description: String {
        let preview = data.prefix(8).map { String(format: "%.4g", $0) }.joined(separator: ", ")
        return "Tensor(\(shape), [\(preview)\(data.count > 8 ? ", ..." : "")])"
    }
}

import Foundation

/// Storage for an op's output that the op writes completely: skips zero-filling (a memset over
/// the whole result, several percent of a transformer's forward pass). Float has no invalid
/// bit patterns; every caller overwrites every element before the array is read.
@inline(__always)
func uninitializedFloats(_ n: Int) -> [Float] {
    [Float](unsafeUninitializedCapacity: n) { _, initialized in initialized = n }
}
