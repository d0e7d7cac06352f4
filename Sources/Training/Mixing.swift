import Engine
import Foundation

/// Mixup and CutMix on a batch (SlowFast's `MixUp`, after timm): with probability `probability`
/// a batch is mixed; CutMix is chosen with probability `switchProbability`, else Mixup. Each clip
/// is mixed with the batch reversed (clip i with clip B-1-i); the targets are the label-smoothed
/// one-hots mixed with the same weight, CutMix's weight corrected to the pasted box's area.
public struct MixConfig: Codable, Hashable, Sendable {
    public var mixupAlpha: Double
    public var cutmixAlpha: Double
    public var probability: Double
    public var switchProbability: Double
    public var labelSmoothing: Double

    public init(mixupAlpha: Double = 0.8, cutmixAlpha: Double = 1.0, probability: Double = 1.0,
                switchProbability: Double = 0.5, labelSmoothing: Double = 0.1) {
        self.mixupAlpha = mixupAlpha; self.cutmixAlpha = cutmixAlpha; self.probability = probability
        self.switchProbability = switchProbability; self.labelSmoothing = labelSmoothing
    }
}

public enum Mixing {
    /// One-hot targets with label smoothing: off = smoothing / K, on = 1 - smoothing + off.
    public static func smoothedOneHot(_ labels: [Int], classes k: Int, smoothing: Double) -> [Float] {
        let off = Float(smoothing / Double(k)), on = Float(1 - smoothing) + off
        var t = [Float](repeating: off, count: labels.count * k)
        for (i, l) in labels.enumerated() { t[i * k + l] = on }
        return t
    }

    /// Mixes a batch `x` (B x C x T x H x W, values in place) and returns its soft targets
    /// (B x K) and the weight used (1 when the batch was not mixed).
    public static func apply(_ config: MixConfig, batch x: inout [Float], shape: [Int], labels: [Int], classes k: Int,
                             generator g: inout SeededGenerator) -> (targets: [Float], lambda: Double) {
        let b = shape[0]
        let onehot = smoothedOneHot(labels, classes: k, smoothing: config.labelSmoothing)
        guard b > 1, g.uniform() < config.probability else { return (onehot, 1) }
        let useCutmix = config.cutmixAlpha > 0 && (config.mixupAlpha <= 0 || g.uniform() < config.switchProbability)
        let per = x.count / b
        let original = x
        var lambda: Double
        if useCutmix {
            lambda = g.beta(config.cutmixAlpha, config.cutmixAlpha)
            let (h, w) = (shape[shape.count - 2], shape[shape.count - 1])
            let ratio = (1 - lambda).squareRoot()
            let (ch, cw) = (Int(Double(h) * ratio), Int(Double(w) * ratio))
            let cy = g.int(below: h), cx = g.int(below: w)
            let y0 = max(cy - ch / 2, 0), y1 = min(cy + ch / 2, h)
            let x0 = max(cx - cw / 2, 0), x1 = min(cx + cw / 2, w)
            let planes = per / (h * w)
            for i in 0..<b {
                let j = b - 1 - i
                for p in 0..<planes {
                    for yy in y0..<y1 {
                        for xx in x0..<x1 {
                            let o = p * h * w + yy * w + xx
                            x[i * per + o] = original[j * per + o]
                        }
                    }
                }
            }
            lambda = 1 - Double((y1 - y0) * (x1 - x0)) / Double(h * w)
        } else {
            lambda = g.beta(config.mixupAlpha, config.mixupAlpha)
            let l = Float(lambda), m = Float(1 - lambda)
            for i in 0..<b {
                let j = b - 1 - i
                for o in 0..<per { x[i * per + o] = original[i * per + o] * l + original[j * per + o] * m }
            }
        }
        var targets = onehot
        let l = Float(lambda), m = Float(1 - lambda)
        for i in 0..<b {
            let j = b - 1 - i
            for c in 0..<k { targets[i * k + c] = onehot[i * k + c] * l + onehot[j * k + c] * m }
        }
        return (targets, lambda)
    }
}

extension SeededGenerator {
    /// Gamma(shape, 1) by Marsaglia and Tsang (shape < 1 through the boost U^(1/shape)).
    public mutating func gamma(_ shape: Double) -> Double {
        if shape < 1 {
            var u = uniform()
            while u <= 0 { u = uniform() }
            return gamma(shape + 1) * pow(u, 1 / shape)
        }
        let d = shape - 1.0 / 3, c = 1 / (9 * d).squareRoot()
        while true {
            var x: Double, v: Double
            repeat { x = normal(); v = 1 + c * x } while v <= 0
            v = v * v * v
            let u = uniform()
            if u < 1 - 0.0331 * x * x * x * x { return d * v }
            if u > 0, Foundation.log(u) < 0.5 * x * x + d * (1 - v + Foundation.log(v)) { return d * v }
        }
    }

    /// Beta(a, b) as G(a) / (G(a) + G(b)).
    public mutating func beta(_ a: Double, _ b: Double) -> Double {
        let x = gamma(a), y = gamma(b)
        return x / (x + y)
    }
}
