import Engine

/// I3D (Carreira and Zisserman): Inception-v1 inflated to 3D, every conv with TensorFlow "SAME"
/// padding. Names follow pytorch_i3d's end points: `Conv3d_1a_7x7.conv3d.weight`,
/// `Conv3d_1a_7x7.bn.running_mean`, `Mixed_3b.b1b.conv3d.weight`, `logits.conv3d.bias`.
///
/// | end point    | op                              | out  | stride |
/// |--------------|---------------------------------|------|--------|
/// | Conv3d_1a    | 7x7x7 conv                      | 64   | 2,2,2  |
/// | MaxPool3d_2a | max 1x3x3                       |      | 1,2,2  |
/// | Conv3d_2b/2c | 1x1x1 conv, 3x3x3 conv          | 192  | 1      |
/// | MaxPool3d_3a | max 1x3x3                       |      | 1,2,2  |
/// | Mixed_3b..3c | inception                        | 480  |        |
/// | MaxPool3d_4a | max 3x3x3                       |      | 2,2,2  |
/// | Mixed_4b..4f | inception                        | 832  |        |
/// | MaxPool3d_5a | max 2x2x2                       |      | 2,2,2  |
/// | Mixed_5b..5c | inception                        | 1024 |        |
/// | logits       | avg 2x7x7 valid, 1x1x1 conv, mean over time | classes | |
public final class I3D: Module, Layer, ShapeTraceable {
    public let Conv3d_1a_7x7: Unit3D
    public let Conv3d_2b_1x1: Unit3D
    public let Conv3d_2c_3x3: Unit3D
    public let Mixed_3b: InceptionModule, Mixed_3c: InceptionModule
    public let Mixed_4b: InceptionModule, Mixed_4c: InceptionModule, Mixed_4d: InceptionModule
    public let Mixed_4e: InceptionModule, Mixed_4f: InceptionModule
    public let Mixed_5b: InceptionModule, Mixed_5c: InceptionModule
    public let logits: Unit3D
    /// Dropout before the logits (no weights; it owns its mask generator, so each step gets a new mask).
    public let dropout: Dropout

    public init(inputChannels: Int = 3, classes: Int = 400, width: Double = 1, dropout: Float = 0.5,
                generator g: inout SeededGenerator) {
        func w(_ c: Int) -> Int { max(1, Int((Double(c) * width).rounded())) }
        Conv3d_1a_7x7 = Unit3D(inputChannels, w(64), kernel: [7, 7, 7], stride: [2, 2, 2], generator: &g)
        Conv3d_2b_1x1 = Unit3D(w(64), w(64), kernel: [1, 1, 1], generator: &g)
        Conv3d_2c_3x3 = Unit3D(w(64), w(192), kernel: [3, 3, 3], generator: &g)
        func mixed(_ c: Int, _ b: [Int]) -> InceptionModule { InceptionModule(c, b.map(w), generator: &g) }
        Mixed_3b = mixed(w(192), [64, 96, 128, 16, 32, 32])
        Mixed_3c = mixed(Mixed_3b.outChannels, [128, 128, 192, 32, 96, 64])
        Mixed_4b = mixed(Mixed_3c.outChannels, [192, 96, 208, 16, 48, 64])
        Mixed_4c = mixed(Mixed_4b.outChannels, [160, 112, 224, 24, 64, 64])
        Mixed_4d = mixed(Mixed_4c.outChannels, [128, 128, 256, 24, 64, 64])
        Mixed_4e = mixed(Mixed_4d.outChannels, [112, 144, 288, 32, 64, 64])
        Mixed_4f = mixed(Mixed_4e.outChannels, [256, 160, 320, 32, 128, 128])
        Mixed_5b = mixed(Mixed_4f.outChannels, [256, 160, 320, 32, 128, 128])
        Mixed_5c = mixed(Mixed_5b.outChannels, [384, 192, 384, 48, 128, 128])
        logits = Unit3D(Mixed_5c.outChannels, classes, kernel: [1, 1, 1], batchNorm: false, activation: false, bias: true, generator: &g)
        self.dropout = Dropout(dropout, generator: g.derived("I3D dropout"))
    }

    /// The max-pools between stages (TF SAME padding).
    static let pools: [String: (kernel: [Int], stride: [Int])] = [
        "MaxPool3d_2a": ([1, 3, 3], [1, 2, 2]), "MaxPool3d_3a": ([1, 3, 3], [1, 2, 2]),
        "MaxPool3d_4a": ([3, 3, 3], [2, 2, 2]), "MaxPool3d_5a": ([2, 2, 2], [2, 2, 2]),
    ]

    enum Step { case unit(Unit3D), mixed(InceptionModule), pool(String) }

    var steps: [(String, Step)] {
        [("Conv3d_1a_7x7", .unit(Conv3d_1a_7x7)), ("MaxPool3d_2a", .pool("MaxPool3d_2a")),
         ("Conv3d_2b_1x1", .unit(Conv3d_2b_1x1)), ("Conv3d_2c_3x3", .unit(Conv3d_2c_3x3)), ("MaxPool3d_3a", .pool("MaxPool3d_3a")),
         ("Mixed_3b", .mixed(Mixed_3b)), ("Mixed_3c", .mixed(Mixed_3c)), ("MaxPool3d_4a", .pool("MaxPool3d_4a")),
         ("Mixed_4b", .mixed(Mixed_4b)), ("Mixed_4c", .mixed(Mixed_4c)), ("Mixed_4d", .mixed(Mixed_4d)),
         ("Mixed_4e", .mixed(Mixed_4e)), ("Mixed_4f", .mixed(Mixed_4f)), ("MaxPool3d_5a", .pool("MaxPool3d_5a")),
         ("Mixed_5b", .mixed(Mixed_5b)), ("Mixed_5c", .mixed(Mixed_5c))]
    }

    /// Logits averaged over the remaining time steps: N x classes.
    public func callAsFunction(_ x: Tensor) -> Tensor {
        var h = x
        for (_, step) in steps {
            switch step {
            case .unit(let u): h = u(h)
            case .mixed(let m): h = m(h)
            case .pool(let p):
                let (k, s) = I3D.pools[p]!
                h = h.maxPool3d(kernel: k, stride: s, padding: .same(input: Array(h.shape[2...]), kernel: k, stride: s))
            }
        }
        let pooled = h.avgPool3d(kernel: [min(2, h.shape[2]), min(7, h.shape[3]), min(7, h.shape[4])], stride: [1, 1, 1])
        let dropped = dropout(pooled)
        return logits(dropped).mean(axes: [2, 3, 4])
    }

    public func trace(_ input: [Int], _ t: inout CostTrace, name: String = "") -> [Int] {
        var shape = input
        for (stepName, step) in steps {
            switch step {
            case .unit(let u): shape = u.trace(shape, &t, name: stepName)
            case .mixed(let m): shape = m.trace(shape, &t, name: stepName)
            case .pool(let p):
                let (k, s) = I3D.pools[p]!
                let pad = Padding3D.same(input: Array(shape[2...]), kernel: k, stride: s)
                shape = Array(shape[0..<2]) + Window3D(kernel: k, stride: s, padding: pad).outputSize(Array(shape[2...]))
            }
        }
        // Average pool 2x7x7 (valid, stride 1), then the 1x1x1 logits conv, then the mean over time.
        let k = [min(2, shape[2]), min(7, shape[3]), min(7, shape[4])]
        let pooled = Array(shape[0..<2]) + Window3D(kernel: k).outputSize(Array(shape[2...]))
        let out = logits.trace(pooled, &t, name: "logits")
        return [out[0], out[1]]
    }
}

/// Conv (no bias, TF SAME padding) + batch norm + ReLU, pytorch_i3d's Unit3D (`conv3d`, `bn`).
public final class Unit3D: Module, Layer, ShapeTraceable {
    public let conv3d: Conv3d
    public let bn: BatchNorm?
    let activation: Bool

    public init(_ inChannels: Int, _ outChannels: Int, kernel: [Int], stride: [Int] = [1, 1, 1], batchNorm: Bool = true,
                activation: Bool = true, bias: Bool = false, generator g: inout SeededGenerator) {
        conv3d = Conv3d(inChannels, outChannels, kernel: kernel, stride: stride, samePadding: true, bias: bias,
                        initialisation: .pytorchDefault, generator: &g)
        bn = batchNorm ? BatchNorm(outChannels, momentum: 0.01, eps: 1e-3) : nil
        self.activation = activation
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        let h = conv3d(x)
        if let bn { return bn(h, relu: activation) }   // batch norm and ReLU in one pass
        return activation ? h.relu() : h
    }

    public func trace(_ input: [Int], _ t: inout CostTrace, name: String) -> [Int] {
        let s = conv3d.trace(input, &t, name: name + ".conv3d")
        return bn?.trace(s, &t, name: name + ".bn") ?? s
    }
}

/// The inception module: 1x1x1; 1x1x1 -> 3x3x3; 1x1x1 -> 3x3x3; 3x3x3 max-pool (stride 1, SAME)
/// -> 1x1x1; concatenated along channels. Branches named as pytorch_i3d: b0, b1a, b1b, b2a, b2b, b3b.
public final class InceptionModule: Module, Layer, ShapeTraceable {
    public let b0: Unit3D, b1a: Unit3D, b1b: Unit3D, b2a: Unit3D, b2b: Unit3D, b3b: Unit3D
    public let outChannels: Int

    /// `c`: [b0, b1a, b1b, b2a, b2b, b3b] output channels.
    public init(_ inChannels: Int, _ c: [Int], generator g: inout SeededGenerator) {
        b0 = Unit3D(inChannels, c[0], kernel: [1, 1, 1], generator: &g)
        b1a = Unit3D(inChannels, c[1], kernel: [1, 1, 1], generator: &g)
        b1b = Unit3D(c[1], c[2], kernel: [3, 3, 3], generator: &g)
        b2a = Unit3D(inChannels, c[3], kernel: [1, 1, 1], generator: &g)
        b2b = Unit3D(c[3], c[4], kernel: [3, 3, 3], generator: &g)
        b3b = Unit3D(inChannels, c[5], kernel: [1, 1, 1], generator: &g)
        outChannels = c[0] + c[2] + c[4] + c[5]
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        let pooled = x.maxPool3d(kernel: [3, 3, 3], stride: [1, 1, 1],
                                 padding: .same(input: Array(x.shape[2...]), kernel: [3, 3, 3], stride: [1, 1, 1]))
        return Tensor.concatenated([b0(x), b1b(b1a(x)), b2b(b2a(x)), b3b(pooled)], axis: 1)
    }

    public func trace(_ input: [Int], _ t: inout CostTrace, name: String) -> [Int] {
        let s0 = b0.trace(input, &t, name: name + ".b0")
        _ = b1b.trace(b1a.trace(input, &t, name: name + ".b1a"), &t, name: name + ".b1b")
        _ = b2b.trace(b2a.trace(input, &t, name: name + ".b2a"), &t, name: name + ".b2b")
        _ = b3b.trace(input, &t, name: name + ".b3b")
        return [s0[0], outChannels] + Array(s0[2...])
    }
}
