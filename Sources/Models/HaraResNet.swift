import Engine

/// R3D-50 as Hara et al. define it (3D-ResNets-PyTorch): stem conv 7x7x7 stride 1x2x2 padding
/// 3x3x3, BN, ReLU, max-pool 3x3x3 stride 2 padding 1; bottleneck blocks [3, 4, 6, 3], widths
/// 64/128/256/512 (x4 out), stride 2 in the 3x3x3 conv of stages 2-4. Names as in that code:
/// `conv1`, `bn1`, `layer1.0.conv1`, `layer1.0.bn1`, ..., `layer2.0.downsample.0`, `fc`.
public final class HaraResNet: Module, Layer, ShapeTraceable {
    public let conv1: Conv3d
    public let bn1: BatchNorm
    public let layer1: [HaraBottleneck]
    public let layer2: [HaraBottleneck]
    public let layer3: [HaraBottleneck]
    public let layer4: [HaraBottleneck]
    public let fc: Linear

    public init(inputChannels: Int = 3, classes: Int = 400, blocks: [Int] = [3, 4, 6, 3], width: Double = 1,
                generator g: inout SeededGenerator) {
        let widths = [64, 128, 256, 512].map { max(1, Int((Double($0) * width).rounded())) }
        conv1 = Conv3d(inputChannels, widths[0], kernel: [7, 7, 7], stride: [1, 2, 2], padding: [3, 3, 3], generator: &g)
        bn1 = BatchNorm(widths[0])
        var inPlanes = widths[0]
        func stage(_ planes: Int, _ count: Int, _ stride: Int, _ g: inout SeededGenerator) -> [HaraBottleneck] {
            (0..<count).map { i in
                let b = HaraBottleneck(inPlanes, planes, stride: i == 0 ? stride : 1, generator: &g)
                inPlanes = planes * 4
                return b
            }
        }
        layer1 = stage(widths[0], blocks[0], 1, &g)
        layer2 = stage(widths[1], blocks[1], 2, &g)
        layer3 = stage(widths[2], blocks[2], 2, &g)
        layer4 = stage(widths[3], blocks[3], 2, &g)
        fc = Linear(widths[3] * 4, classes, generator: &g)
    }

    var stages: [(String, [HaraBottleneck])] { [("layer1", layer1), ("layer2", layer2), ("layer3", layer3), ("layer4", layer4)] }

    static let pool = (kernel: [3, 3, 3], stride: [2, 2, 2], padding: Padding3D.symmetric([1, 1, 1]))

    public func callAsFunction(_ x: Tensor) -> Tensor {
        var h = bn1(conv1(x), relu: true).maxPool3d(kernel: HaraResNet.pool.kernel, stride: HaraResNet.pool.stride, padding: HaraResNet.pool.padding)
        for (_, s) in stages { for b in s { h = b(h) } }
        return fc(h.adaptiveAvgPool3d([1, 1, 1]).flattened())
    }

    public func trace(_ input: [Int], _ t: inout CostTrace, name: String = "") -> [Int] {
        var shape = bn1.trace(conv1.trace(input, &t, name: "conv1"), &t, name: "bn1")
        let p = HaraResNet.pool
        shape = Array(shape[0..<2]) + Window3D(kernel: p.kernel, stride: p.stride, padding: p.padding).outputSize(Array(shape[2...]))
        for (stageName, s) in stages { for (i, b) in s.enumerated() { shape = b.trace(shape, &t, name: "\(stageName).\(i)") } }
        return fc.trace([shape[0], shape[1]], &t, name: "fc")
    }
}

public final class HaraBottleneck: Module, Layer, ShapeTraceable {
    public let conv1: Conv3d, bn1: BatchNorm
    public let conv2: Conv3d, bn2: BatchNorm
    public let conv3: Conv3d, bn3: BatchNorm
    public let downsample: Sequential?

    public init(_ inPlanes: Int, _ planes: Int, stride: Int, generator g: inout SeededGenerator) {
        conv1 = Conv3d(inPlanes, planes, kernel: [1, 1, 1], generator: &g); bn1 = BatchNorm(planes)
        conv2 = Conv3d(planes, planes, kernel: [3, 3, 3], stride: [stride, stride, stride], padding: [1, 1, 1], generator: &g)
        bn2 = BatchNorm(planes)
        conv3 = Conv3d(planes, planes * 4, kernel: [1, 1, 1], generator: &g); bn3 = BatchNorm(planes * 4)
        downsample = stride != 1 || inPlanes != planes * 4
            ? Sequential([Conv3d(inPlanes, planes * 4, kernel: [1, 1, 1], stride: [stride, stride, stride], generator: &g), BatchNorm(planes * 4)])
            : nil
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        let r = downsample.map { $0(x) } ?? x
        let h = bn3(conv3(bn2(conv2(bn1(conv1(x), relu: true)), relu: true)))
        return h.addingReLU(r)
    }

    public func trace(_ input: [Int], _ t: inout CostTrace, name: String) -> [Int] {
        var s = bn1.trace(conv1.trace(input, &t, name: name + ".conv1"), &t, name: name + ".bn1")
        s = bn2.trace(conv2.trace(s, &t, name: name + ".conv2"), &t, name: name + ".bn2")
        s = bn3.trace(conv3.trace(s, &t, name: name + ".conv3"), &t, name: name + ".bn3")
        if let downsample { _ = downsample.trace(input, &t, name: name + ".downsample") }
        return s
    }
}
