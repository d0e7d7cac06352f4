import Engine

/// The networks of Table 1. A configuration, a benchmark or a command names one of these cases, so
/// a typo is a compile error (or, on the command line, a parse error listing the choices); the raw
/// value is the name printed, stored and hashed.
public enum Architecture: String, CaseIterable, Codable, Sendable, CustomStringConvertible {
    case r3d18
    case r3d18TCLR = "r3d18-tclr"
    case r3d50
    case r3d50Hara = "r3d50-hara"
    case i3d
    case mvitB = "mvit-b"

    /// The code the definition follows.
    public var reference: String {
        switch self {
        case .r3d18: return "torchvision r3d_18 (VideoResNet, BasicBlock, Conv3DSimple)"
        case .r3d18TCLR: return "TCLR's R3D-18 (DAVEISHAN/TCLR): stage 4 unstrided in time, dilation 2"
        case .r3d50: return "torchvision-style VideoResNet with Bottleneck [3,4,6,3], no max-pool"
        case .r3d50Hara: return "Hara et al. 3D-ResNets-PyTorch resnet50: 7x7x7 stem + max-pool"
        case .i3d: return "I3D, Inception-v1 inflated, TF SAME padding (deepmind/kinetics-i3d; names of pytorch_i3d)"
        case .mvitB: return "MViT-B 16x4, conv pooling (torchvision mvit_v1_b; SlowFast MVIT_B_16x4_CONV)"
        }
    }

    /// The paper's input, C x T x H x W.
    public var defaultInput: [Int] {
        switch self {
        case .r3d18, .r3d18TCLR: return [3, 16, 112, 112]
        case .r3d50, .r3d50Hara, .i3d, .mvitB: return [3, 16, 224, 224]
        }
    }

    /// Printed and interpolated as its name ("mvit-b"), never as the case's Swift spelling.
    public var description: String { rawValue }
}

public enum ModelZoo {
    /// Builds a model; `width` scales channels (scaled profiles). `clip` (T x H x W) matters only
    /// to MViT, whose position embeddings fit one clip size (default: the paper's input), and so
    /// does `layerScale` (CaiT's LayerScale on its blocks' branches; nil: MViT-B as published).
    public static func make(_ architecture: Architecture, inputChannels: Int = 3, classes: Int = 400, width: Double = 1,
                            clip: [Int]? = nil, layerScale: Float? = nil, generator: inout SeededGenerator) -> any ShapeTraceable & Layer {
        switch architecture {
        case .r3d18: return VideoResNet(inputChannels: inputChannels, classes: classes, width: width, generator: &generator)
        case .r3d18TCLR: return VideoResNet(inputChannels: inputChannels, classes: classes, width: width, tclr: true, generator: &generator)
        case .r3d50: return VideoResNet(inputChannels: inputChannels, classes: classes, block: .bottleneck, blocks: [3, 4, 6, 3], width: width, generator: &generator)
        case .r3d50Hara: return HaraResNet(inputChannels: inputChannels, classes: classes, width: width, generator: &generator)
        case .i3d: return I3D(inputChannels: inputChannels, classes: classes, width: width, generator: &generator)
        case .mvitB: return MViT(inputChannels: inputChannels, classes: classes, width: width, clip: clip ?? Array(architecture.defaultInput.dropFirst()),
                                    layerScale: layerScale, generator: &generator)
        }
    }

    /// Parameters and MACs per view for an input C x T x H x W at batch 1.
    public static func cost(_ model: any ShapeTraceable, input: [Int]) -> CostTrace {
        var t = CostTrace()
        _ = model.trace([1] + input, &t, name: "")
        return t
    }
}
