import Engine

/// Pools the tokens of a 3D grid while the class token bypasses it (torchvision's `Pool`): a
/// depthwise conv + LayerNorm for MViT's Q/K/V ("conv pooling"; the norm sees the class token
/// too, as in the reference), or a max-pool with no weights for the residual path (`pool_skip`).
public final class AttentionPool: Module {
    public let pool: Conv3d?
    public let norm_act: Sequential?
    /// Max-pool window of the residual path, when `pool` is nil.
    let maxWindow: (kernel: [Int], stride: [Int], padding: [Int])?

    /// Conv pooling over `channels` (the head dimension): kernel 3x3x3, padding 1.
    init(convChannels channels: Int, stride: [Int], generator g: inout SeededGenerator) {
        pool = Conv3d(channels, channels, kernel: [3, 3, 3], stride: stride, padding: [1, 1, 1], groups: channels,
                      initialisation: .pytorchDefault, generator: &g)
        norm_act = Sequential([LayerNorm(channels, eps: 1e-6)])
        maxWindow = nil
    }

    /// Max pooling of the residual path: kernel stride + 1 where strided, padding kernel / 2.
    init(maxStride stride: [Int]) {
        let kernel = stride.map { $0 > 1 ? $0 + 1 : $0 }
        pool = nil
        norm_act = nil
        maxWindow = (kernel, stride, kernel.map { $0 / 2 })
    }

    /// N x H x (1 + L) x C tokens on grid `thw` -> N x H x (1 + L') x C on the pooled grid. The
    /// tokens are a channels-last grid as they stand, so they pool without transposes.
    func callAsFunction(_ x: Tensor, thw: [Int]) -> (Tensor, [Int]) {
        let (n, h, l, c) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let cls = x.sliced(axis: 2, 0, 1)
        var grid = x.sliced(axis: 2, 1, l).reshaped([n * h] + thw + [c])
        if let pool {
            grid = grid.depthwiseConv3dChannelsLast(weight: pool.weight, stride: pool.stride, padding: pool.padding.before)
        } else if let w = maxWindow {
            grid = grid.maxPool3dChannelsLast(kernel: w.kernel, stride: w.stride, padding: w.padding)
        }
        let out = Array(grid.shape[1..<4])
        var y = Tensor.concatenated([cls, grid.reshaped([n, h, out.reduce(1, *), c])], axis: 2)
        if let norm_act { y = norm_act(y) }
        return (y, out)
    }

    func trace(_ input: [Int], thw: [Int], _ t: inout CostTrace, name: String) -> ([Int], [Int]) {
        let (n, h, c) = (input[0], input[1], input[3])
        var out = thw
        if let pool {
            out = Array(pool.trace([n * h, c] + thw, &t, name: name + ".pool")[2...])
        } else if let w = maxWindow {
            out = Window3D(kernel: w.kernel, stride: w.stride, padding: .symmetric(w.padding)).outputSize(thw)
        }
        let shape = [n, h, 1 + out.reduce(1, *), c]
        if let norm_act { _ = norm_act.trace(shape, &t, name: name + ".norm_act") }
        return (shape, out)
    }
}

/// Multi-head attention with pooled Q, K and V (MViT's "MHPA"); torchvision's MultiscaleAttention.
/// Tokens N x (1 + L) x C in, N x (1 + Lq) x outputDim out, where Lq is the grid after Q pooling.
public final class MultiscaleAttention: Module {
    public let qkv: Linear
    public let project: Sequential
    public let pool_q: AttentionPool?
    public let pool_k: AttentionPool
    public let pool_v: AttentionPool
    public let heads: Int
    public let headDim: Int

    init(_ cfg: MViT.BlockConfig, outputDim: Int, generator g: inout SeededGenerator) {
        let headDim = outputDim / cfg.heads
        heads = cfg.heads
        self.headDim = headDim
        qkv = Linear(cfg.inputChannels, 3 * outputDim, initialisation: .truncatedNormal(0.02), generator: &g)
        project = Sequential([Linear(outputDim, outputDim, initialisation: .truncatedNormal(0.02), generator: &g)])
        pool_q = cfg.strideQ.map { AttentionPool(convChannels: headDim, stride: $0, generator: &g) }
        pool_k = AttentionPool(convChannels: headDim, stride: cfg.strideKV, generator: &g)
        pool_v = AttentionPool(convChannels: headDim, stride: cfg.strideKV, generator: &g)
    }

    func callAsFunction(_ x: Tensor, thw: [Int]) -> (Tensor, [Int]) {
        let n = x.shape[0]
        // qkv's output channels are (q|k|v) x heads x headDim: each part as N x heads x L x headDim.
        let all = qkv(x)
        func part(_ i: Int) -> Tensor { all.attentionHeads(part: i, of: 3, heads: heads) }
        let k = pool_k(part(1), thw: thw).0
        let v = pool_v(part(2), thw: thw).0
        var q = part(0), qThw = thw
        if let pool_q { (q, qThw) = pool_q(q, thw: thw) }
        let y = scaledDotProductAttention(query: q, key: k, value: v)       // N x heads x Lq x headDim
        let merged = y.transposed(1, 2).reshaped([n, q.shape[2], heads * headDim])
        return (project(merged), qThw)
    }

    func trace(_ input: [Int], thw: [Int], _ t: inout CostTrace, name: String) -> ([Int], [Int]) {
        let (n, l) = (input[0], input[1])
        _ = qkv.trace(input, &t, name: name + ".qkv")
        let perHead = [n, heads, l, headDim]
        var qShape = perHead, qThw = thw
        if let pool_q { (qShape, qThw) = pool_q.trace(perHead, thw: thw, &t, name: name + ".pool_q") }
        let kShape = pool_k.trace(perHead, thw: thw, &t, name: name + ".pool_k").0
        _ = pool_v.trace(perHead, thw: thw, &t, name: name + ".pool_v")
        // Q K^T and attention x V: each Lq x Lk x headDim per head.
        let products = n * heads * qShape[2] * kShape[2] * headDim
        t.add(name + ".attention", "attention", output: [n, heads, qShape[2], headDim], macs: 2 * products, parameters: 0)
        let out = project.trace([n, qShape[2], heads * headDim], &t, name: name + ".project")
        return (out, qThw)
    }
}

/// CaiT's LayerScale (timm's `LayerScale`): a residual branch's output times a learnt per-channel
/// factor, `gamma`, that starts small, so that a deep block starts close to the identity.
public final class LayerScale: Module, Layer {
    public let gamma: Tensor

    public init(_ dim: Int, initialValue: Float) {
        gamma = Tensor(filling: initialValue, shape: [dim], requiresGrad: true)
    }

    public func callAsFunction(_ x: Tensor) -> Tensor { x.scaledChannels(by: gamma) }

    /// `x` scaled by `scale`, or `x` itself where a block has none.
    static func apply(_ scale: LayerScale?, _ x: Tensor) -> Tensor { scale.map { $0(x) } ?? x }
}

/// One MViT block (torchvision's MultiscaleBlock, v1 settings):
/// x = pool_skip(x) + drop(attn(norm1(x))); x = project(norm2(x)) or x, + drop(mlp(norm2(x))).
/// With `layerScale` (not MViT-B's: an option for training at small scale), each branch's output
/// is scaled per channel by `ls1` / `ls2` before it joins the residual.
public final class MultiscaleBlock: Module, Stochastic {
    public let pool_skip: AttentionPool?
    public let norm1: LayerNorm
    public let norm2: LayerNorm
    public let attn: MultiscaleAttention
    public let mlp: Sequential
    public let project: Linear?
    public let ls1: LayerScale?
    public let ls2: LayerScale?
    public let stochasticDepth: Float
    private var dropGenerator: SeededGenerator

    init(_ cfg: MViT.BlockConfig, stochasticDepth: Float, layerScale: Float? = nil, generator g: inout SeededGenerator) {
        let dim = cfg.inputChannels
        pool_skip = cfg.strideQ.map { AttentionPool(maxStride: $0) }
        norm1 = LayerNorm(dim, eps: 1e-6)
        norm2 = LayerNorm(dim, eps: 1e-6)
        attn = MultiscaleAttention(cfg, outputDim: dim, generator: &g)
        let noDrop = g.derived("MViT mlp dropout")
        mlp = Sequential([Linear(dim, 4 * dim, initialisation: .truncatedNormal(0.02), generator: &g), GELU(),
                          Dropout(0, generator: noDrop),
                          Linear(4 * dim, cfg.outputChannels, initialisation: .truncatedNormal(0.02), generator: &g),
                          Dropout(0, generator: noDrop)])
        project = dim == cfg.outputChannels ? nil
            : Linear(dim, cfg.outputChannels, initialisation: .truncatedNormal(0.02), generator: &g)
        ls1 = layerScale.map { LayerScale(dim, initialValue: $0) }
        ls2 = layerScale.map { LayerScale(cfg.outputChannels, initialValue: $0) }
        self.stochasticDepth = stochasticDepth
        dropGenerator = g.derived("MViT stochastic depth")
    }

    public func reseed(_ generator: SeededGenerator) { dropGenerator = generator }

    func callAsFunction(_ x: Tensor, thw: [Int]) -> (Tensor, [Int]) {
        let (n, l, c) = (x.shape[0], x.shape[1], x.shape[2])
        let (attended, newThw) = attn(norm1(x), thw: thw)
        let a = LayerScale.apply(ls1, attended)
        var skip = x
        if let pool_skip {
            let pooled = pool_skip(x.reshaped([n, 1, l, c]), thw: thw).0
            skip = pooled.reshaped([n, pooled.shape[2], c])
        }
        let h = skip + a.dropPath(stochasticDepth, training: training, generator: &dropGenerator)
        let hn = norm2(h)
        let residual = project.map { $0(hn) } ?? h
        return (residual + LayerScale.apply(ls2, mlp(hn)).dropPath(stochasticDepth, training: training, generator: &dropGenerator), newThw)
    }

    func trace(_ input: [Int], thw: [Int], _ t: inout CostTrace, name: String) -> ([Int], [Int]) {
        _ = norm1.trace(input, &t, name: name + ".norm1")
        let (a, newThw) = attn.trace(input, thw: thw, &t, name: name + ".attn")
        _ = norm2.trace(a, &t, name: name + ".norm2")
        let out = mlp.trace(a, &t, name: name + ".mlp")
        if let project { _ = project.trace(a, &t, name: name + ".project") }
        // LayerScale's multiplies are elementwise, not multiply-accumulates: parameters only.
        if let ls1 { t.add(name + ".ls1", "layer scale", output: a, macs: 0, parameters: ls1.gamma.count) }
        if let ls2 { t.add(name + ".ls2", "layer scale", output: out, macs: 0, parameters: ls2.gamma.count) }
        return (out, newThw)
    }
}
