import Engine

/// MViT-B 16x4 with conv pooling (Fan et al. 2021), as torchvision's `mvit_v1_b` defines it, with
/// its state_dict keys (`conv_proj.weight`, `pos_encoding.spatial_pos`,
/// `blocks.1.attn.pool_q.norm_act.0.weight`, `blocks.0.mlp.3.bias`, `head.1.weight`).
///
/// | blocks | dim | heads | Q stride | K/V stride | tokens (16x224x224) |
/// |--------|-----|-------|----------|------------|---------------------|
/// | 0      | 96  | 1     | -        | 1x8x8      | 8x56x56             |
/// | 1-2    | 192 | 2     | 1x2x2 at 1 | 1x4x4    | 8x28x28             |
/// | 3-13   | 384 | 4     | 1x2x2 at 3 | 1x2x2    | 8x14x14             |
/// | 14-15  | 768 | 8     | 1x2x2 at 14 | 1x1x1   | 8x7x7               |
///
/// The width grows in the MLP (and the `project` shortcut) of the block before each boundary:
/// blocks 0, 2 and 13 end wider than they start.
///
/// Scaled profiles: `width` scales the first dimension, d0 = max(1, round(96 x width)); stage k has
/// d0 x 2^k channels and the reference's 2^k heads, so every head keeps d0 channels, as in the
/// reference (96). Strides stay the reference's. The input size fixes the position embeddings
/// (T/2 x H/4 x W/4 tokens), so a model is built for one clip size, as torchvision's is.
public final class MViT: Module, Layer, ShapeTraceable {
    /// One block's shape: torchvision's MSBlockConfig.
    public struct BlockConfig: Sendable {
        public var heads: Int
        public var inputChannels: Int
        public var outputChannels: Int
        public var strideQ: [Int]?
        public var strideKV: [Int]
    }

    /// mvit_v1_b's 16 blocks at first dimension `d0` (96 at paper size).
    public static func blockSettings(d0: Int) -> [BlockConfig] {
        let heads = [1, 2, 2, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 8, 8]
        let inMult = [1, 2, 2, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 8, 8]
        let outMult = [2, 2, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 8, 8, 8]
        let qPooled: Set<Int> = [1, 3, 14]
        func kv(_ i: Int) -> [Int] { i == 0 ? [1, 8, 8] : i < 3 ? [1, 4, 4] : i < 14 ? [1, 2, 2] : [1, 1, 1] }
        return (0..<16).map { i in
            BlockConfig(heads: heads[i], inputChannels: d0 * inMult[i], outputChannels: d0 * outMult[i],
                        strideQ: qPooled.contains(i) ? [1, 2, 2] : nil, strideKV: kv(i))
        }
    }

    public let conv_proj: Conv3d
    public let pos_encoding: PositionalEncoding
    public let blocks: [MultiscaleBlock]
    public let norm: LayerNorm
    public let head: Sequential
    /// Tokens after the patch embedding: T/2 x H/4 x W/4.
    public let tokenGrid: [Int]

    /// - Parameter clip: T x H x W of the inputs this model takes (16 x 224 x 224 at paper size).
    public init(inputChannels: Int = 3, classes: Int = 400, width: Double = 1, clip: [Int] = [16, 224, 224],
                dropout: Float = 0.5, stochasticDepth: Float = 0.2, layerScale: Float? = nil, generator g: inout SeededGenerator) {
        let d0 = max(1, Int((96 * width).rounded()))
        let settings = MViT.blockSettings(d0: d0)
        // PyTorch's default initialisation for the patch embedding (torchvision leaves it), bias too.
        conv_proj = Conv3d(inputChannels, d0, kernel: [3, 7, 7], stride: [2, 4, 4], padding: [1, 3, 3], bias: true,
                           initialisation: .pytorchDefault, generator: &g)
        let fanIn = Double(inputChannels * 3 * 7 * 7)
        conv_proj.bias!.assign((0..<d0).map { _ in Float(g.uniform(-1 / fanIn.squareRoot(), 1 / fanIn.squareRoot())) })
        let window = Window3D(kernel: [3, 7, 7], stride: [2, 4, 4], padding: .symmetric([1, 3, 3]), dilation: [1, 1, 1])
        tokenGrid = window.outputSize(clip)
        pos_encoding = PositionalEncoding(dim: d0, grid: tokenGrid, generator: &g)
        var blocks: [MultiscaleBlock] = []
        for (i, cfg) in settings.enumerated() {
            let drop = stochasticDepth * Float(i) / Float(settings.count - 1)
            blocks.append(MultiscaleBlock(cfg, stochasticDepth: drop, layerScale: layerScale, generator: &g))
        }
        self.blocks = blocks
        norm = LayerNorm(settings.last!.outputChannels, eps: 1e-6)
        head = Sequential([Dropout(dropout, generator: g.derived("MViT head dropout")),
                           Linear(settings.last!.outputChannels, classes, initialisation: .truncatedNormal(0.02), generator: &g)])
    }

    /// Logits from the class token: N x classes, for N x C x T x H x W clips of the built size.
    public func callAsFunction(_ x: Tensor) -> Tensor {
        let p = conv_proj(x)                                             // N x d0 x T' x H' x W'
        precondition(Array(p.shape.suffix(3)) == tokenGrid,
                     "MViT built for \(tokenGrid) tokens (clips of about \(tokenGrid[0] * 2)x\(tokenGrid[1] * 4)x\(tokenGrid[2] * 4)), got input \(x.shape)")
        var h = p.flattened(from: 2).transposed(1, 2)                    // N x L x d0
        h = pos_encoding(h)                                              // N x (1 + L) x d0
        var thw = tokenGrid
        for block in blocks { (h, thw) = block(h, thw: thw) }
        h = norm(h)
        let cls = h.sliced(axis: 1, 0, 1).reshaped([h.shape[0], h.shape[2]])
        return head(cls)
    }

    public func trace(_ input: [Int], _ t: inout CostTrace, name: String = "") -> [Int] {
        let p = name.isEmpty ? "" : name + "."
        let e = conv_proj.trace(input, &t, name: p + "conv_proj")
        precondition(Array(e.suffix(3)) == tokenGrid, "MViT built for \(tokenGrid) tokens, traced with \(Array(e.suffix(3)))")
        t.add(p + "pos_encoding", "embedding", output: [e[0], 1 + tokenGrid.reduce(1, *), e[1]], macs: 0,
              parameters: pos_encoding.parameterCount)
        var shape = [e[0], 1 + tokenGrid.reduce(1, *), e[1]]
        var thw = tokenGrid
        for (i, block) in blocks.enumerated() { (shape, thw) = block.trace(shape, thw: thw, &t, name: "\(p)blocks.\(i)") }
        shape = norm.trace(shape, &t, name: p + "norm")
        return head.trace([shape[0], shape[2]], &t, name: p + "head")
    }
}

/// The class token and separable learned position embeddings (spatial + temporal, class).
public final class PositionalEncoding: Module {
    public let class_token: Tensor
    public let spatial_pos: Tensor
    public let temporal_pos: Tensor
    public let class_pos: Tensor

    init(dim: Int, grid: [Int], generator g: inout SeededGenerator) {
        func draw(_ shape: [Int]) -> Tensor {
            Tensor(shape: shape, data: (0..<shape.reduce(1, *)).map { _ in Float(g.truncatedNormal(std: 0.02)) }, requiresGrad: true)
        }
        class_token = draw([dim])
        spatial_pos = draw([grid[1] * grid[2], dim])
        temporal_pos = draw([grid[0], dim])
        class_pos = draw([dim])
    }

    /// N x L x C tokens -> N x (1 + L) x C: class token first, every token plus its position.
    func callAsFunction(_ x: Tensor) -> Tensor {
        let (n, c) = (x.shape[0], x.shape[2])
        let cls = Tensor(zeros: [n, 1, c]) + class_token.reshaped([1, 1, c])
        let grid = temporal_pos.reshaped([temporal_pos.shape[0], 1, c]) + spatial_pos.reshaped([1, spatial_pos.shape[0], c])
        let pos = Tensor.concatenated([class_pos.reshaped([1, c]), grid.reshaped([-1, c])], axis: 0)
        return Tensor.concatenated([cls, x], axis: 1) + pos.reshaped([1, -1, c])
    }
}
