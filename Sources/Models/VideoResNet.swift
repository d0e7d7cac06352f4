import Engine

/// torchvision's VideoResNet family: a stem, four stages of residual blocks, global average
/// pooling and a linear classifier. Layer names follow torchvision's state_dict keys
/// (`stem.0.weight`, `layer1.0.conv1.0.weight`, `layer2.0.downsample.0.weight`, `fc.weight`).
///
/// | stage  | output (3x16x112x112 input) | R3D-18 blocks        | R3D-50 (torchvision-style) blocks |
/// |--------|------------------------------|----------------------|-----------------------------------|
/// | stem   | 64 x 16 x 56 x 56            | 3x7x7, stride 1x2x2  | same                              |
/// | layer1 | 64w x 16 x 56 x 56           | 2 x basic [3x3x3]    | 3 x bottleneck [1, 3x3x3, 1] x4   |
/// | layer2 | 128w x 8 x 28 x 28           | 2 x basic            | 4 x bottleneck                    |
/// | layer3 | 256w x 4 x 14 x 14           | 2 x basic            | 6 x bottleneck                    |
/// | layer4 | 512w x 2 x 7 x 7             | 2 x basic            | 3 x bottleneck                    |
///
/// The TCLR variant keeps time in stage 4: its first block's first conv has stride 1x2x2, padding
/// 2x1x1 and temporal dilation 2, its shortcut stride 1x2x2 (a 16-frame clip ends at 4x7x7).
public final class VideoResNet: Module, Layer, ShapeTraceable {
    public enum Block: String, Sendable { case basic, bottleneck }

    public let stem: Sequential
    public let layer1: [ResidualBlock]
    public let layer2: [ResidualBlock]
    public let layer3: [ResidualBlock]
    public let layer4: [ResidualBlock]
    public let fc: Linear

    /// - Parameters:
    ///   - width: scales every stage's channels (a scaled profile): round(64 x width), ...
    ///   - tclr: TCLR's temporally unstrided, dilated stage 4.
    public init(inputChannels: Int = 3, classes: Int = 400, block: Block = .basic, blocks: [Int] = [2, 2, 2, 2],
                width: Double = 1, tclr: Bool = false, generator: inout SeededGenerator) {
        let widths = [64, 128, 256, 512].map { max(1, Int((Double($0) * width).rounded())) }
        let expansion = block == .bottleneck ? 4 : 1
        stem = Sequential([
            Conv3d(inputChannels, widths[0], kernel: [3, 7, 7], stride: [1, 2, 2], padding: [1, 3, 3], generator: &generator),
            BatchNorm(widths[0]), ReLU(),
        ])
        var inPlanes = widths[0]
        func stage(_ planes: Int, _ count: Int, stride: Int, tclr: Bool, _ g: inout SeededGenerator) -> [ResidualBlock] {
            (0..<count).map { i in
                let first = i == 0
                let s = first ? (tclr ? [1, stride, stride] : [stride, stride, stride]) : [1, 1, 1]
                let b = ResidualBlock(kind: block, inPlanes, planes, stride: s,
                                      temporalDilation: first && tclr ? 2 : 1, generator: &g)
                inPlanes = planes * expansion
                return b
            }
        }
        layer1 = stage(widths[0], blocks[0], stride: 1, tclr: false, &generator)
        layer2 = stage(widths[1], blocks[1], stride: 2, tclr: false, &generator)
        layer3 = stage(widths[2], blocks[2], stride: 2, tclr: false, &generator)
        layer4 = stage(widths[3], blocks[3], stride: 2, tclr: tclr, &generator)
        fc = Linear(widths[3] * expansion, classes, initialisation: .normal(0.01), generator: &generator)
    }

    var stages: [(String, [ResidualBlock])] { [("layer1", layer1), ("layer2", layer2), ("layer3", layer3), ("layer4", layer4)] }

    /// Features before pooling: N x C x T' x H' x W'.
    public func features(_ x: Tensor) -> Tensor {
        var h = stem(x)
        for (_, stage) in stages { for block in stage { h = block(h) } }
        return h
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        fc((blockedFeatures(x) ?? features(x)).adaptiveAvgPool3d([1, 1, 1]).flattened())
    }

    /// `features(x)` for inference in evaluation mode, with the activations in oneDNN's layouts
    /// from the stem to the last block (`BlockedActivation`): the same values, without a reorder
    /// around every convolution or a pass for each batch norm, residual sum and ReLU. Nil where it
    /// does not apply (training, gradients recorded, a backend other than exact oneDNN).
    public func blockedFeatures(_ x: Tensor) -> Tensor? {
        guard !Autograd.isRecording, !training, x.rank == 5,
              let input = BlockedActivation(x), var h = convBatchNorm(stem, input) else { return nil }
        for (_, stage) in stages {
            for block in stage {
                guard let next = block.blocked(h) else { return nil }
                h = next
            }
        }
        return h.tensor()
    }

    public func trace(_ input: [Int], _ t: inout CostTrace, name: String = "") -> [Int] {
        let p = name.isEmpty ? "" : name + "."
        var shape = stem.trace(input, &t, name: p + "stem")
        for (stageName, stage) in stages {
            for (i, block) in stage.enumerated() { shape = block.trace(shape, &t, name: "\(p)\(stageName).\(i)") }
        }
        return fc.trace([shape[0], shape[1]], &t, name: p + "fc")
    }
}

/// torchvision's BasicBlock (two 3x3x3 convs) or Bottleneck (1x1x1, 3x3x3, 1x1x1 with 4x
/// expansion), each conv in a Sequential with its batch norm (`conv1.0`, `conv1.1`), and a 1x1x1
/// strided shortcut (`downsample.0`, `downsample.1`) when the shape changes.
public final class ResidualBlock: Module, Layer, ShapeTraceable {
    public let conv1: Sequential
    public let conv2: Sequential
    public let conv3: Sequential?
    public let downsample: Sequential?

    public init(kind: VideoResNet.Block, _ inPlanes: Int, _ planes: Int, stride: [Int], temporalDilation: Int = 1,
                generator g: inout SeededGenerator) {
        let padding = [temporalDilation, 1, 1]
        let dilation = [temporalDilation, 1, 1]
        let outPlanes: Int
        switch kind {
        case .basic:
            conv1 = Sequential([Conv3d(inPlanes, planes, kernel: [3, 3, 3], stride: stride, padding: padding, dilation: dilation, generator: &g),
                                BatchNorm(planes), ReLU()])
            conv2 = Sequential([Conv3d(planes, planes, kernel: [3, 3, 3], padding: [1, 1, 1], generator: &g), BatchNorm(planes)])
            conv3 = nil
            outPlanes = planes
        case .bottleneck:
            conv1 = Sequential([Conv3d(inPlanes, planes, kernel: [1, 1, 1], generator: &g), BatchNorm(planes), ReLU()])
            conv2 = Sequential([Conv3d(planes, planes, kernel: [3, 3, 3], stride: stride, padding: padding, dilation: dilation, generator: &g),
                                BatchNorm(planes), ReLU()])
            conv3 = Sequential([Conv3d(planes, planes * 4, kernel: [1, 1, 1], generator: &g), BatchNorm(planes * 4)])
            outPlanes = planes * 4
        }
        downsample = stride != [1, 1, 1] || inPlanes != outPlanes
            ? Sequential([Conv3d(inPlanes, outPlanes, kernel: [1, 1, 1], stride: stride, generator: &g), BatchNorm(outPlanes)])
            : nil
    }

    /// The block on an activation in oneDNN's layouts (inference; see `VideoResNet.blockedFeatures`).
    func blocked(_ x: BlockedActivation) -> BlockedActivation? {
        guard let residual = downsample.map({ convBatchNorm($0, x) }) ?? x, var h = convBatchNorm(conv1, x),
              let after2 = convBatchNorm(conv2, h) else { return nil }
        h = after2
        if let conv3 {
            guard let after3 = convBatchNorm(conv3, h) else { return nil }
            h = after3
        }
        return h.addingReLU(residual)
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        let residual = downsample.map { $0(x) } ?? x
        var h = conv2(conv1(x))
        if let conv3 { h = conv3(h) }
        return h.addingReLU(residual)
    }

    public func trace(_ input: [Int], _ t: inout CostTrace, name: String) -> [Int] {
        var shape = conv2.trace(conv1.trace(input, &t, name: name + ".conv1"), &t, name: name + ".conv2")
        if let conv3 { shape = conv3.trace(shape, &t, name: name + ".conv3") }
        if let downsample { _ = downsample.trace(input, &t, name: name + ".downsample") }
        return shape
    }
}

/// A [conv, batch norm] or [conv, batch norm, ReLU] sequence on a blocked activation. Nil when the
/// sequence is anything else or the blocked path does not apply.
private func convBatchNorm(_ sequence: Sequential, _ x: BlockedActivation) -> BlockedActivation? {
    let layers = sequence.layers
    guard layers.count == 2 || (layers.count == 3 && layers[2] is ReLU),
          let conv = layers[0] as? Conv3d, let bn = layers[1] as? BatchNorm, !bn.training else { return nil }
    return x.convBatchNorm(conv, bn, relu: layers.count == 3)
}
