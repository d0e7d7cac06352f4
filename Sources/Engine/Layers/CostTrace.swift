/// The cost of a network found by walking it with shapes only: no values are computed.
///
/// Counts multiply-accumulates (MACs) of convolutions, linear layers and attention products, as
/// fvcore and torchvision do; norms, activations and pooling are free. Parameters are those of
/// each layer that owns them (batch-norm and layer-norm affine terms included, running statistics
/// not).
public struct CostTrace: Sendable {
    public struct Entry: Sendable, Codable {
        public var name: String
        public var kind: String
        public var outputShape: [Int]
        public var macs: Int
        public var parameters: Int
    }

    public var entries: [Entry] = []
    public init() {}

    public var macs: Int { entries.reduce(0) { $0 + $1.macs } }
    public var parameters: Int { entries.reduce(0) { $0 + $1.parameters } }

    public mutating func add(_ name: String, _ kind: String, output: [Int], macs: Int, parameters: Int) {
        entries.append(Entry(name: name, kind: kind, outputShape: output, macs: macs, parameters: parameters))
    }
}

/// A module whose cost can be traced from an input shape (N x C x ... as its forward takes).
public protocol ShapeTraceable: Module {
    /// Records this module's cost under `name` and returns its output shape.
    func trace(_ input: [Int], _ t: inout CostTrace, name: String) -> [Int]
}

extension Conv3d: ShapeTraceable {
    public func trace(_ input: [Int], _ t: inout CostTrace, name: String) -> [Int] {
        let kernel = Array(weight.shape[2...])
        let pad = samePadding ? Padding3D.same(input: Array(input[2...]), kernel: kernel, stride: stride, dilation: dilation) : padding
        let out = Window3D(kernel: kernel, stride: stride, padding: pad, dilation: dilation).outputSize(Array(input[2...]))
        let o = weight.shape[0]
        let shape = [input[0], o] + out
        let macs = input[0] * o * weight.shape[1] * kernel.reduce(1, *) * out.reduce(1, *)
        t.add(name, "conv3d", output: shape, macs: macs, parameters: weight.count + (bias?.count ?? 0))
        return shape
    }
}

extension Linear: ShapeTraceable {
    public func trace(_ input: [Int], _ t: inout CostTrace, name: String) -> [Int] {
        let (out, inF) = (weight.shape[0], weight.shape[1])
        let rows = input.dropLast().reduce(1, *)
        let shape = Array(input.dropLast()) + [out]
        t.add(name, "linear", output: shape, macs: rows * inF * out, parameters: weight.count + (bias?.count ?? 0))
        return shape
    }
}

extension BatchNorm: ShapeTraceable {
    public func trace(_ input: [Int], _ t: inout CostTrace, name: String) -> [Int] {
        t.add(name, "batchnorm", output: input, macs: 0, parameters: weight.count + bias.count)
        return input
    }
}

extension LayerNorm: ShapeTraceable {
    public func trace(_ input: [Int], _ t: inout CostTrace, name: String) -> [Int] {
        t.add(name, "layernorm", output: input, macs: 0, parameters: weight.count + bias.count)
        return input
    }
}

extension ReLU: ShapeTraceable {
    public func trace(_ input: [Int], _ t: inout CostTrace, name: String) -> [Int] { input }
}

extension GELU: ShapeTraceable {
    public func trace(_ input: [Int], _ t: inout CostTrace, name: String) -> [Int] { input }
}

extension Sequential: ShapeTraceable {
    public func trace(_ input: [Int], _ t: inout CostTrace, name: String) -> [Int] {
        var shape = input
        for (i, layer) in layers.enumerated() {
            guard let l = layer as? any ShapeTraceable else {
                preconditionFailure("\(name).\(i) (\(type(of: layer))) cannot be traced")
            }
            shape = l.trace(shape, &t, name: "\(name).\(i)")
        }
        return shape
    }
}
