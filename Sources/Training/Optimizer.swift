import Engine
import Foundation

/// The update rule of an optimiser, with PyTorch's formulas (`torch.optim`, single-tensor path),
/// so a recipe written for PyTorch trains the same here.
public enum OptimizerRule: Codable, Hashable, Sendable {
    /// SGD with momentum (dampening 0), optionally Nesterov, and coupled weight decay (added to
    /// the gradient).
    case sgd(momentum: Double, nesterov: Bool)
    /// Adam: coupled weight decay, bias-corrected moments.
    case adam(beta1: Double, beta2: Double, eps: Double)
    /// AdamW: decoupled weight decay (the weights shrink by lr x decay before the Adam step).
    case adamw(beta1: Double, beta2: Double, eps: Double)

    public static let sgdNesterov = OptimizerRule.sgd(momentum: 0.9, nesterov: true)
    public static let adamDefault = OptimizerRule.adam(beta1: 0.9, beta2: 0.999, eps: 1e-8)
    public static let adamwDefault = OptimizerRule.adamw(beta1: 0.9, beta2: 0.999, eps: 1e-8)
}

/// Which parameters get weight decay (the MViT recipe's ZERO_WD_1D_PARAM: none for biases and
/// other 1-D tensors), and which are frozen (no update, no state).
public struct ParameterGroups: Codable, Hashable, Sendable {
    public var weightDecay: Double
    /// No decay for tensors of rank 1 or less (biases, norm scales); rank-1 here, not the name.
    public var noDecayOnOneDimensional: Bool
    /// No decay for these names (exact) in addition.
    public var noDecayNames: [String]
    /// Frozen: names starting with one of these prefixes get no update and no optimiser state.
    public var frozenPrefixes: [String]

    public init(weightDecay: Double, noDecayOnOneDimensional: Bool = false, noDecayNames: [String] = [],
                frozenPrefixes: [String] = []) {
        self.weightDecay = weightDecay; self.noDecayOnOneDimensional = noDecayOnOneDimensional
        self.noDecayNames = noDecayNames; self.frozenPrefixes = frozenPrefixes
    }

    public func isFrozen(_ name: String) -> Bool { frozenPrefixes.contains { name.hasPrefix($0) } }

    public func decay(for name: String, shape: [Int]) -> Double {
        if noDecayOnOneDimensional && shape.count <= 1 { return 0 }
        if noDecayNames.contains(name) { return 0 }
        return weightDecay
    }
}

/// Per-parameter optimiser state, keyed by state_dict name so it saves beside the weights.
public struct OptimizerState: Equatable, Sendable {
    /// Momentum buffer (SGD) or first moment (Adam).
    public var first: [String: [Float]] = [:]
    /// Second moment (Adam).
    public var second: [String: [Float]] = [:]
    /// Steps taken per parameter (Adam's bias correction).
    public var steps: [String: Int] = [:]
    public init() {}
}

/// An optimiser: one rule applied to each parameter with its own state.
public struct Optimizer: Sendable {
    public var rule: OptimizerRule
    public var groups: ParameterGroups
    public var state = OptimizerState()

    public init(rule: OptimizerRule, groups: ParameterGroups) {
        self.rule = rule; self.groups = groups
    }

    /// One step at learning rate `lr` for every named parameter that has a gradient. Parameters
    /// without a gradient (unused this step) and frozen ones are left alone, as PyTorch does.
    public mutating func step(_ parameters: [(String, Tensor)], lr: Double) {
        for (name, p) in parameters where !groups.isFrozen(name) {
            guard let g = p.grad else { continue }
            let decay = groups.decay(for: name, shape: p.shape)
            var w = p.data
            update(name: name, weights: &w, gradient: g, lr: lr, decay: decay)
            p.data = w
        }
    }

    mutating func update(name: String, weights w: inout [Float], gradient: [Float], lr: Double, decay: Double) {
        let n = w.count
        let lrF = Float(lr), wd = Float(decay)
        switch rule {
        case .sgd(let momentum, let nesterov):
            var d = gradient
            if wd != 0 { for i in 0..<n { d[i] = d[i] + wd * w[i] } }     // grad.add(param, alpha=wd)
            if momentum != 0 {
                let mu = Float(momentum)
                var buf: [Float]
                if let b = state.first[name] {
                    buf = b
                    for i in 0..<n { buf[i] = buf[i] * mu + d[i] }        // buf.mul_(mu).add_(d, alpha=1 - dampening)
                } else {
                    buf = d                                               // first step: buf = clone(d)
                }
                state.first[name] = buf
                if nesterov { for i in 0..<n { d[i] = d[i] + mu * buf[i] } } else { d = buf }
            }
            for i in 0..<n { w[i] = w[i] + (-lrF) * d[i] }                // param.add_(d, alpha=-lr)
        case .adam(let beta1, let beta2, let eps), .adamw(let beta1, let beta2, let eps):
            let decoupled: Bool
            if case .adamw = rule { decoupled = true } else { decoupled = false }
            var g = gradient
            if decoupled {
                if wd != 0 { let f = Float(1 - lr * decay); for i in 0..<n { w[i] *= f } }   // param.mul_(1 - lr * wd)
            } else if wd != 0 {
                for i in 0..<n { g[i] = g[i] + wd * w[i] }
            }
            var m = state.first[name] ?? [Float](repeating: 0, count: n)
            var v = state.second[name] ?? [Float](repeating: 0, count: n)
            let t = (state.steps[name] ?? 0) + 1
            state.steps[name] = t
            let w1 = Float(1 - beta1), b2 = Float(beta2), w2 = Float(1 - beta2)
            for i in 0..<n {
                m[i] = m[i] + w1 * (g[i] - m[i])                          // exp_avg.lerp_(grad, 1 - beta1)
                v[i] = v[i] * b2 + w2 * (g[i] * g[i])                     // exp_avg_sq.mul_(b2).addcmul_(g, g, 1 - b2)
            }
            let bc1 = 1 - pow(beta1, Double(t)), bc2 = 1 - pow(beta2, Double(t))
            let stepSize = Float(lr / bc1)
            let bc2Sqrt = Float(bc2.squareRoot()), epsF = Float(eps)
            for i in 0..<n {
                let denom = v[i].squareRoot() / bc2Sqrt + epsF
                w[i] = w[i] + (-stepSize) * (m[i] / denom)                // param.addcdiv_(m, denom, value=-step_size)
            }
            state.first[name] = m
            state.second[name] = v
        }
    }
}

/// Scales every gradient so their global L2 norm is at most `maxNorm`
/// (`torch.nn.utils.clip_grad_norm_`: the norm of the per-tensor norms, coefficient
/// maxNorm / (norm + 1e-6) clamped at 1, applied to every gradient). Returns the norm before clipping.
@discardableResult
public func clipGradientNorm(_ parameters: [Tensor], maxNorm: Double) -> Double {
    let grads = parameters.compactMap(\.grad)
    var norms: [Float] = []
    for g in grads {
        var s: Double = 0
        for x in g { s += Double(x) * Double(x) }
        norms.append(Float(s.squareRoot()))
    }
    var total: Double = 0
    for x in norms { total += Double(x) * Double(x) }
    let totalNorm = Float(total.squareRoot())
    let coefficient = min(Float(maxNorm) / (totalNorm + 1e-6), 1)
    for p in parameters where p.grad != nil {
        p.grad = p.grad!.map { $0 * coefficient }
    }
    return Double(totalNorm)
}
