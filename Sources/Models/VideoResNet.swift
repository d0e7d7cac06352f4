import Engine

/// torchvision's VideoResNet family (`r3d_18`): a stem, four stages of residual blocks, global
/// average pooling and a linear classifier. Layer names follow torchvision's state_dict keys
/// (`stem.0.weight`, `layer1.0.conv1.0.weight`, `layer2.0.downsample.0.weight`, `fc.weight`).
///
/// | stage  | output (3x16x112x112 input) | blocks            |
/// |--------|------------------------------|-------------------|
/// | stem   | 64 x 16 x 56 x 56            | 3x7x7, stride 1x2x2 |
/// | layer1 | 64 x 16 x 56 x 56            | 2 x [3x3x3, 64]   |
/// | layer2 | 128 x 8 x 28 x 28            | 2 x [3x3x3, 128]  |
/// | layer3 | 256 x 4 x 14 x 14            | 2 x [3x3x3, 256]  |
/// | layer4 | 512 x 2 x 7 x 7              | 2 x [3x3x3, 512]  |
public final class VideoResNet: Module, Layer {
    public let stem: Sequential
    public let layer1: [BasicBlock]
    public let layer2: [BasicBlock]
    public let layer3: [BasicBlock]
    public let layer4: [BasicBlock]
    public let fc: Linear

    /// R3D-18. `width` scales every stage's channels (a scaled profile): 64 x width, 128 x width ...
    public init(inputChannels: Int = 3, classes: Int = 400, blocks: [Int] = [2, 2, 2, 2], width: Double = 1,
                generator: inout SeededGenerator) {
        let widths = [64, 128, 256, 512].map { max(1, Int((Double($0) * width).rounded())) }
        stem = Sequential([
            Conv3d(inputChannels, widths[0], kernel: [3, 7, 7], stride: [1, 2, 2], padding: [1, 3, 3], generator: &generator),
            BatchNorm(widths[0]), ReLU(),
        ])
        var inPlanes = widths[0]
        func stage(_ planes: Int, _ count: Int, stride: Int, _ g: inout SeededGenerator) -> [BasicBlock] {
            (0..<count).map { i in
                let s = i == 0 ? stride : 1
                let block = BasicBlock(inPlanes, planes, stride: s, generator: &g)
                inPlanes = planes
                return block
            }
        }
        layer1 = stage(widths[0], blocks[0], stride: 1, &generator)
        layer2 = stage(widths[1], blocks[1], stride: 2, &generator)
        layer3 = stage(widths[2], blocks[2], stride: 2, &generator)
        layer4 = stage(widths[3], blocks[3], stride: 2, &generator)
        fc = Linear(widths[3], classes, initialisation: .normal(0.01), generator: &generator)
    }

    /// Features before pooling: N x 512w x T/8 x H/16 x W/16.
    public func features(_ x: Tensor) -> Tensor {
        var h = stem(x)
        for stage in [layer1, layer2, layer3, layer4] { for block in stage { h = block(h) } }
        return h
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        fc(features(x).adaptiveAvgPool3d([1, 1, 1]).flattened())
    }
}

/// Two 3x3x3 convolutions with batch norm and a residual connection (torchvision's BasicBlock with
/// Conv3DSimple). Its convolutions sit in `conv1.0` / `conv2.0` with batch norms at `conv1.1` /
/// `conv2.1`, as in torchvision.
public final class BasicBlock: Module, Layer {
    public let conv1: Sequential
    public let conv2: Sequential
    public let downsample: Sequential?

    public init(_ inPlanes: Int, _ planes: Int, stride: Int, generator: inout SeededGenerator) {
        conv1 = Sequential([
            Conv3d(inPlanes, planes, kernel: [3, 3, 3], stride: [stride, stride, stride], padding: [1, 1, 1], generator: &generator),
            BatchNorm(planes), ReLU(),
        ])
        conv2 = Sequential([
            Conv3d(planes, planes, kernel: [3, 3, 3], padding: [1, 1, 1], generator: &generator),
            BatchNorm(planes),
        ])
        downsample = stride != 1 || inPlanes != planes
            ? Sequential([Conv3d(inPlanes, planes, kernel: [1, 1, 1], stride: [stride, stride, stride], generator: &generator),
                          BatchNorm(planes)])
            : nil
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        let residual = downsample.map { $0(x) } ?? x
        return (conv2(conv1(x)) + residual).relu()
    }
}
