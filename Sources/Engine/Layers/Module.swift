/// A network part with named parameters and buffers, like PyTorch's `nn.Module`.
///
/// Names come from the stored properties, found by reflection: a `Tensor` property is a
/// parameter (or a buffer when `isBuffer`), a `Module` property a child, an array of modules
/// children named by index. So `layer1: [BasicBlock]` holding `conv1` gives
/// `layer1.0.conv1.weight`, torchvision's state_dict key. Properties that must match PyTorch's
/// snake_case names (`running_mean`) are written that way on purpose.
open class Module {
    /// Training mode (batch statistics, dropout) or evaluation mode.
    public private(set) var training = true

    public init() {}

    /// Direct children with their names, in declaration order.
    public var namedChildren: [(String, Module)] {
        var out: [(String, Module)] = []
        Module.walk(self) { name, value in
            if let m = value as? Module { out.append((name, m)) }
            if let ms = value as? [Module] { for (i, m) in ms.enumerated() { out.append(("\(name).\(i)", m)) } }
        }
        return out
    }

    /// Own tensors (parameters and buffers) with their names, in declaration order.
    var ownTensors: [(String, Tensor)] {
        var out: [(String, Tensor)] = []
        Module.walk(self) { name, value in
            if let t = value as? Tensor { out.append((name, t)) }
        }
        return out
    }

    /// Visits stored properties of this class and its superclasses (base first), unwrapping optionals.
    static func walk(_ object: Module, _ visit: (String, Any) -> Void) {
        var mirrors: [Mirror] = []
        var m: Mirror? = Mirror(reflecting: object)
        while let current = m { mirrors.append(current); m = current.superclassMirror }
        for mirror in mirrors.reversed() {
            for child in mirror.children {
                guard var name = child.label, name != "training" else { continue }
                if name.hasPrefix("$__lazy_storage_$_") { continue }
                if name.hasPrefix("_") { name.removeFirst() }
                var value: Any = child.value
                let inner = Mirror(reflecting: value)
                if inner.displayStyle == .optional {
                    guard let wrapped = inner.children.first?.value else { continue }
                    value = wrapped
                }
                visit(name, value)
            }
        }
    }

    /// Every parameter and buffer, depth first, with dotted names: PyTorch's state_dict order.
    public func stateDict(prefix: String = "") -> [(String, Tensor)] {
        var out = ownTensors.map { (prefix + $0.0, $0.1) }
        for (name, child) in namedChildren { out += child.stateDict(prefix: prefix + name + ".") }
        return out
    }

    /// Trainable parameters (tensors that require gradients), with names.
    public func namedParameters() -> [(String, Tensor)] { stateDict().filter { !$0.1.isBuffer } }

    public var parameters: [Tensor] { namedParameters().map(\.1) }

    /// Buffers (running statistics), with names.
    public func namedBuffers() -> [(String, Tensor)] { stateDict().filter { $0.1.isBuffer } }

    /// The number of trainable values.
    public var parameterCount: Int { parameters.reduce(0) { $0 + $1.count } }

    /// Switches this module and all below it to training or evaluation mode.
    public func train(_ on: Bool = true) {
        training = on
        for (_, c) in namedChildren { c.train(on) }
    }

    public func eval() { train(false) }

    /// Clears every parameter's gradient.
    public func zeroGrad() { for p in parameters { p.zeroGrad() } }
}

/// A module that maps one tensor to one tensor.
public protocol Layer: Module {
    func callAsFunction(_ x: Tensor) -> Tensor
}

/// Runs layers in order; children are named 0, 1, 2 ... as in `nn.Sequential`.
public final class Sequential: Module, Layer {
    public let layers: [Module]

    public init(_ layers: [Module]) {
        precondition(layers.allSatisfy { $0 is any Layer }, "Sequential holds layers")
        self.layers = layers
    }

    public override var namedChildren: [(String, Module)] {
        layers.enumerated().map { ("\($0.offset)", $0.element) }
    }

    /// A batch norm followed by a ReLU runs as one op (one pass over the activations, one buffer).
    public func callAsFunction(_ x: Tensor) -> Tensor {
        var h = x, i = 0
        while i < layers.count {
            if let bn = layers[i] as? BatchNorm, i + 1 < layers.count, layers[i + 1] is ReLU {
                h = bn(h, relu: true)
                i += 2
            } else {
                h = (layers[i] as! any Layer)(h)
                i += 1
            }
        }
        return h
    }
}

/// A module that draws random numbers while training (dropout masks, dropped paths). Its generator
/// is state a checkpoint does not hold, so a training loop reseeds every such module before each
/// step from (seed, step, module name): a resumed run then draws exactly what an uninterrupted one
/// would.
public protocol Stochastic: AnyObject {
    func reseed(_ generator: SeededGenerator)
}

extension Module {
    /// This module and every module below it, depth first, with dotted names ("" for self).
    public func namedModules(prefix: String = "") -> [(String, Module)] {
        var out: [(String, Module)] = [(prefix, self)]
        for (name, child) in namedChildren {
            out += child.namedModules(prefix: prefix.isEmpty ? name : prefix + "." + name)
        }
        return out
    }

    /// The `Stochastic` modules below this one, with their names.
    public func stochasticModules() -> [(String, Stochastic)] {
        namedModules().compactMap { name, m in (m as? Stochastic).map { (name, $0) } }
    }

    /// Gives every `Stochastic` module below this one a generator derived from `base` and its name.
    public func reseedStochasticModules(_ base: SeededGenerator) {
        for (name, s) in stochasticModules() { s.reseed(base.derived("module/" + name)) }
    }
}
