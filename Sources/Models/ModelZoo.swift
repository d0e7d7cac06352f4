import Engine

/// The networks of Table 1 by name, with the code they follow.
public enum ModelZoo {
    public struct Entry: Sendable {
        public var name: String
        public var reference: String
        public var defaultInput: [Int]   // C x T x H x W
    }

    public static let entries: [Entry] = [
        Entry(name: "r3d18", reference: "torchvision r3d_18 (VideoResNet, BasicBlock, Conv3DSimple)", defaultInput: [3, 16, 112, 112]),
        Entry(name: "r3d18-tclr", reference: "TCLR's R3D-18 (DAVEISHAN/TCLR): stage 4 unstrided in time, dilation 2", defaultInput: [3, 16, 112, 112]),
        Entry(name: "r3d50", reference: "torchvision-style VideoResNet with Bottleneck [3,4,6,3], no max-pool", defaultInput: [3, 16, 224, 224]),
        Entry(name: "r3d50-hara", reference: "Hara et al. 3D-ResNets-PyTorch resnet50: 7x7x7 stem + max-pool", defaultInput: [3, 16, 224, 224]),
        Entry(name: "i3d", reference: "I3D, Inception-v1 inflated, TF SAME padding (deepmind/kinetics-i3d; names of pytorch_i3d)", defaultInput: [3, 16, 224, 224]),
        Entry(name: "mvit-b", reference: "MViT-B 16x4, conv pooling (torchvision mvit_v1_b; SlowFast MVIT_B_16x4_CONV)", defaultInput: [3, 16, 224, 224]),
    ]

    public static func entry(_ name: String) -> Entry? { entries.first { $0.name == name } }

    /// Builds a model; `width` scales channels (scaled profiles). `clip` (T x H x W) matters only
    /// to MViT, whose position embeddings fit one clip size (default: the entry's input).
    public static func make(_ name: String, inputChannels: Int = 3, classes: Int = 400, width: Double = 1,
                            clip: [Int]? = nil, generator: inout SeededGenerator) -> (any ShapeTraceable)? {
        switch name {
        case "r3d18": return VideoResNet(inputChannels: inputChannels, classes: classes, width: width, generator: &generator)
        case "r3d18-tclr": return VideoResNet(inputChannels: inputChannels, classes: classes, width: width, tclr: true, generator: &generator)
        case "r3d50": return VideoResNet(inputChannels: inputChannels, classes: classes, block: .bottleneck, blocks: [3, 4, 6, 3], width: width, generator: &generator)
        case "r3d50-hara": return HaraResNet(inputChannels: inputChannels, classes: classes, width: width, generator: &generator)
        case "i3d": return I3D(inputChannels: inputChannels, classes: classes, width: width, generator: &generator)
        case "mvit-b": return MViT(inputChannels: inputChannels, classes: classes, width: width, clip: clip ?? [16, 224, 224], generator: &generator)
        default: return nil
        }
    }

    /// Parameters and MACs per view for an input C x T x H x W at batch 1.
    public static func cost(_ model: any ShapeTraceable, input: [Int]) -> CostTrace {
        var t = CostTrace()
        _ = model.trace([1] + input, &t, name: "")
        return t
    }
}
