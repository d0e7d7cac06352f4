import Foundation

/// A learning-rate schedule as a value: the rate is a pure function of the (fractional) epoch,
/// so resuming needs nothing but the step. SlowFast's `lr_policy` conventions: the warm-up runs
/// linearly from `start` to the value the main schedule has at the warm-up's end.
public struct LearningRateSchedule: Codable, Hashable, Sendable {
    public enum Shape: Codable, Hashable, Sendable {
        case constant
        /// x `gamma` at each milestone epoch (torch's MultiStepLR; one milestone is StepLR).
        case multiStep(milestones: [Int], gamma: Double)
        /// Half-cosine from the base rate to `end` over the run (SlowFast's cosine; with
        /// `afterWarmup` the cosine starts at the warm-up's end).
        case cosine(end: Double, afterWarmup: Bool)
        /// TCLR's rule, driven by the training loss (`PlateauRule`): base / 10^k.
        case plateau(PlateauRule)
    }

    public var base: Double
    public var shape: Shape
    /// Warm-up length in epochs (fractional epochs allowed); 0 for none.
    public var warmupEpochs: Double
    /// The rate at epoch 0 of the warm-up.
    public var warmupStart: Double
    /// Total epochs (the cosine's length).
    public var epochs: Int
    /// A warm-up given as one factor of the main rate per whole epoch (TCLR's pretraining:
    /// 1/100, 1/20, 1/10, 1/2, 1), used instead of the linear warm-up when not empty.
    public var warmupFactors: [Double]

    public init(base: Double, shape: Shape = .constant, warmupEpochs: Double = 0, warmupStart: Double = 0, epochs: Int,
                warmupFactors: [Double] = []) {
        self.base = base; self.shape = shape; self.warmupEpochs = warmupEpochs; self.warmupStart = warmupStart
        self.epochs = epochs; self.warmupFactors = warmupFactors
    }

    /// The rate at fractional epoch `e` (step / steps per epoch). `plateauDivisions` is the
    /// plateau rule's count of divisions so far (state kept in `PlateauState`).
    public func rate(epoch e: Double, plateauDivisions: Int = 0) -> Double {
        if !warmupFactors.isEmpty && e < Double(warmupFactors.count) {
            return main(e, plateauDivisions) * warmupFactors[max(0, Int(e))]
        }
        if warmupEpochs > 0 && e < warmupEpochs {
            let end = main(warmupEpochs, plateauDivisions)
            return warmupStart + (end - warmupStart) * e / warmupEpochs
        }
        return main(e, plateauDivisions)
    }

    func main(_ e: Double, _ divisions: Int) -> Double {
        switch shape {
        case .constant: return base
        case .multiStep(let milestones, let gamma):
            return base * pow(gamma, Double(milestones.filter { Double($0) <= e }.count))
        case .cosine(let end, let afterWarmup):
            let offset = afterWarmup ? warmupEpochs : 0
            let length = max(Double(epochs) - offset, 1e-12)
            let progress = min(max((e - offset) / length, 0), 1)
            return end + (base - end) * (cos(Double.pi * progress) + 1) / 2
        case .plateau:
            return base * pow(0.1, Double(divisions))
        }
    }
}

/// TCLR's plateau rule (its `train.py`): after every epoch, if the mean training loss is not a new
/// best the counter rises by one (it is not reset when the loss improves); when it reaches
/// `patience` the rate is divided by 10 and the counter restarts. Training stops once the rate
/// falls below `stopBelow`.
public struct PlateauRule: Codable, Hashable, Sendable {
    public var patience: Int
    public var stopBelow: Double?
    public init(patience: Int, stopBelow: Double? = nil) { self.patience = patience; self.stopBelow = stopBelow }
}

/// The plateau rule's state, saved in checkpoints.
public struct PlateauState: Codable, Equatable, Sendable {
    /// The best epoch loss so far (nil before the first epoch).
    public var bestLoss: Double?
    public var counter = 0
    public var divisions = 0
    public init() {}

    /// Records one epoch's mean training loss.
    public mutating func observe(epochLoss loss: Double, rule: PlateauRule) {
        if bestLoss == nil || loss < bestLoss! { bestLoss = loss } else { counter += 1 }
        if counter >= rule.patience { divisions += 1; counter = 0 }
    }
}
