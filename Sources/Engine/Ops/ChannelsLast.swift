// Depthwise convolution and max pooling of channels-last grids, N x T x H x W x C: a
// transformer's tokens as they are (L x C), so MViT's pooling needs no transposes around it, and
// the innermost loops run over contiguous channels.

/// The window arithmetic of one channels-last op: output and input positions, and the taps that
/// fall inside the input (the zero or -inf padding is skipped).
struct ChannelsLastWindow {
    let batch: Int, input: [Int], output: [Int], kernel: [Int], stride: [Int], padding: [Int]

    init(_ shape: [Int], kernel: [Int], stride: [Int], padding: [Int]) {
        precondition(shape.count == 5 && kernel.count == 3 && stride.count == 3 && padding.count == 3,
                     "channels-last window: input \(shape) (N x T x H x W x C), kernel \(kernel), stride \(stride)")
        batch = shape[0]; input = Array(shape[1..<4]); self.kernel = kernel; self.stride = stride; self.padding = padding
        output = Window3D(kernel: kernel, stride: stride, padding: .symmetric(padding)).outputSize(input)
    }

    var inputPositions: Int { input.reduce(1, *) }
    var outputPositions: Int { output.reduce(1, *) }

    /// Calls `body(tap, outputPosition, inputPosition)` for every in-bounds tap of every output
    /// position of frame `ot` of batch element `n`, taps in kernel order for each output (so sums
    /// over taps always run in one order). Positions count over the whole batch.
    @inline(__always)
    func forEachTap(n: Int, ot: Int, _ body: (Int, Int, Int) -> Void) {
        let (T, H, W) = (input[0], input[1], input[2])
        let (Ho, Wo) = (output[1], output[2])
        for oh in 0..<Ho {
            for ow in 0..<Wo {
                let o = ((n * output[0] + ot) * Ho + oh) * Wo + ow
                for a in 0..<kernel[0] {
                    let it = ot * stride[0] - padding[0] + a
                    guard it >= 0 && it < T else { continue }
                    for b in 0..<kernel[1] {
                        let ih = oh * stride[1] - padding[1] + b
                        guard ih >= 0 && ih < H else { continue }
                        for e in 0..<kernel[2] {
                            let iw = ow * stride[2] - padding[2] + e
                            guard iw >= 0 && iw < W else { continue }
                            body((a * kernel[1] + b) * kernel[2] + e, o, ((n * T + it) * H + ih) * W + iw)
                        }
                    }
                }
            }
        }
    }
}

extension Tensor {
    /// Depthwise 3D convolution (no bias) of a channels-last input N x T x H x W x C with a weight
    /// in PyTorch's layout, C x 1 x kT x kH x kW, and symmetric zero padding; the result is
    /// channels-last too. Equal to `conv3d(groups: C)` on the channels-first transpose.
    public func depthwiseConv3dChannelsLast(weight: Tensor, stride: [Int], padding: [Int]) -> Tensor {
        let c = shape[rank - 1]
        precondition(weight.rank == 5 && weight.shape[0] == c && weight.shape[1] == 1,
                     "depthwise conv: weight \(weight.shape) for \(c) channels")
        let window = ChannelsLastWindow(shape, kernel: Array(weight.shape[2...]), stride: stride, padding: padding)
        let taps = window.kernel.reduce(1, *)
        // Taps-major weights, so each tap's C weights are contiguous.
        let tapWeights = Tensor.permute(weight.data, shape: [c, taps], order: [1, 0])
        let (frames, outputs) = (window.output[0], window.outputPositions)
        var out = [Float](repeating: 0, count: window.batch * outputs * c)
        data.withUnsafeBufferPointer { xp in
            tapWeights.withUnsafeBufferPointer { wp in
                out.withUnsafeMutableBufferPointer { yp in
                    let (x, w, y) = (xp.baseAddress!, wp.baseAddress!, yp.baseAddress!)
                    // Each (n, output frame) writes its own outputs.
                    Parallel.forEach(window.batch * frames, minimumChunk: 1) { range in
                        for item in range {
                            window.forEachTap(n: item / frames, ot: item % frames) { k, o, i in
                                let (yo, xi, wk) = (y + o * c, x + i * c, w + k * c)
                                for j in 0..<c { yo[j] += wk[j] * xi[j] }
                            }
                        }
                    }
                }
            }
        }
        let input = self
        let result = Tensor(shape: [window.batch] + window.output + [c], data: out)
        return Autograd.record(result, inputs: [self, weight]) { r in
            // Both gradients per block of channels: no two threads write one value, and every sum
            // runs in one order, whatever the thread count.
            let block = 16, blocks = (c + block - 1) / block
            r.grad!.withUnsafeBufferPointer { gp in
                let gy = gp.baseAddress!
                if input.requiresGrad {
                    var gx = [Float](repeating: 0, count: input.count)
                    tapWeights.withUnsafeBufferPointer { wp in
                        gx.withUnsafeMutableBufferPointer { gxp in
                            let (w, g) = (wp.baseAddress!, gxp.baseAddress!)
                            Parallel.forEach(window.batch * blocks, minimumChunk: 1) { range in
                                for item in range {
                                    let (n, c0) = (item / blocks, (item % blocks) * block)
                                    let c1 = min(c0 + block, c)
                                    for ot in 0..<frames {
                                        window.forEachTap(n: n, ot: ot) { k, o, i in
                                            let (gi, go, wk) = (g + i * c, gy + o * c, w + k * c)
                                            for j in c0..<c1 { gi[j] += wk[j] * go[j] }
                                        }
                                    }
                                }
                            }
                        }
                    }
                    input.accumulateGrad(gx)
                }
                if weight.requiresGrad {
                    var gt = [Float](repeating: 0, count: taps * c)   // taps-major
                    input.data.withUnsafeBufferPointer { xp in
                        gt.withUnsafeMutableBufferPointer { gtp in
                            let (x, g) = (xp.baseAddress!, gtp.baseAddress!)
                            Parallel.forEach(blocks, minimumChunk: 1) { range in
                                for b in range {
                                    let c0 = b * block, c1 = min(c0 + block, c)
                                    for n in 0..<window.batch {
                                        for ot in 0..<frames {
                                            window.forEachTap(n: n, ot: ot) { k, o, i in
                                                let (gk, go, xi) = (g + k * c, gy + o * c, x + i * c)
                                                for j in c0..<c1 { gk[j] += xi[j] * go[j] }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                    weight.accumulateGrad(Tensor.permute(gt, shape: [taps, c], order: [1, 0]))
                }
            }
        }
    }

    /// Max pooling of a channels-last input N x T x H x W x C with symmetric padding that never
    /// wins; ties go to the first position in the window, as `maxPool3d`'s.
    public func maxPool3dChannelsLast(kernel: [Int], stride: [Int], padding: [Int]) -> Tensor {
        let c = shape[rank - 1]
        precondition(c > 0 && count / c <= Int(Int32.max), "max pool: input \(shape): no channels, or too many positions")
        let window = ChannelsLastWindow(shape, kernel: kernel, stride: stride, padding: padding)
        let (frames, outputs) = (window.output[0], window.outputPositions)
        var out = [Float](repeating: -.infinity, count: window.batch * outputs * c)
        var argmax = [Int32](repeating: -1, count: out.count)   // the input position of each maximum
        data.withUnsafeBufferPointer { xp in
            out.withUnsafeMutableBufferPointer { yp in
                argmax.withUnsafeMutableBufferPointer { ap in
                    let (x, y, am) = (xp.baseAddress!, yp.baseAddress!, ap.baseAddress!)
                    Parallel.forEach(window.batch * frames, minimumChunk: 1) { range in
                        for item in range {
                            window.forEachTap(n: item / frames, ot: item % frames) { _, o, i in
                                let (yo, ao, xi) = (y + o * c, am + o * c, x + i * c)
                                let position = Int32(truncatingIfNeeded: i)   // fits: checked above
                                if ao[0] < 0 {   // an output's first tap is taken whatever its value
                                    for j in 0..<c { yo[j] = xi[j]; ao[j] = position }
                                } else {
                                    maxUpdate(yo, ao, xi, c, position)
                                }
                            }
                        }
                    }
                }
            }
        }
        let input = self
        return Autograd.record(Tensor(shape: [window.batch] + window.output + [c], data: out), inputs: [self]) { r in
            var gx = [Float](repeating: 0, count: input.count)
            let g = r.grad!
            for o in 0..<argmax.count / max(c, 1) {
                for j in 0..<c where argmax[o * c + j] >= 0 {
                    gx[Int(argmax[o * c + j]) * c + j] += g[o * c + j]
                }
            }
            input.accumulateGrad(gx)
        }
    }
}

/// best[j], at[j] = x[j], position wherever x[j] > best[j], eight channels at a time (the
/// compiler does not vectorise the plain loop: the Float and Int32 stores might alias).
@inline(__always)
func maxUpdate(_ best: UnsafeMutablePointer<Float>, _ at: UnsafeMutablePointer<Int32>, _ x: UnsafePointer<Float>,
               _ c: Int, _ position: Int32) {
    var j = 0
    let positions = SIMD8<Int32>(repeating: position)
    while j + 8 <= c {
        let v = UnsafeRawPointer(x + j).loadUnaligned(as: SIMD8<Float>.self)
        var b = UnsafeRawPointer(best + j).loadUnaligned(as: SIMD8<Float>.self)
        var a = UnsafeRawPointer(at + j).loadUnaligned(as: SIMD8<Int32>.self)
        let better = v .> b
        b.replace(with: v, where: better)
        a.replace(with: positions, where: better)
        UnsafeMutableRawPointer(best + j).storeBytes(of: b, as: SIMD8<Float>.self)
        UnsafeMutableRawPointer(at + j).storeBytes(of: a, as: SIMD8<Int32>.self)
        j += 8
    }
    while j < c {
        if x[j] > best[j] { best[j] = x[j]; at[j] = position }
        j += 1
    }
}
