import CDNNL
import Foundation

/// An activation kept in oneDNN's own (blocked) layout between convolutions, for inference: the
/// ResNets' chains of convolution + batch norm (+ residual) (+ ReLU) run on it without reordering
/// to and from N x C x T x H x W around each convolution. The convolution is the plain path's own
/// oneDNN primitive; batch norm with its ReLU, and a residual block's sum with its ReLU, run here as
/// passes over the blocked buffers with the engine's arithmetic (`batchNorm` with running
/// statistics, `addingReLU`), so results equal the plain ops' bit for bit (tested). No gradients:
/// use it under `Autograd.withoutGradients`.
public final class BlockedActivation {
    let handle: OpaquePointer
    /// N, C, T, H, W.
    public let shape: [Int]

    private init(handle: OpaquePointer) {
        self.handle = handle
        var dims = [Int64](repeating: 0, count: 5)
        vip_activation_dims(handle, &dims)
        shape = dims.map(Int.init)
    }

    /// A copy of a rank-5 tensor's values (nil if oneDNN could not allocate it).
    public convenience init?(_ x: Tensor) {
        precondition(x.rank == 5, "BlockedActivation: input \(x.shape)")
        let dims = x.shape.map(Int64.init)
        guard let handle = x.data.withUnsafeBufferPointer({ vip_activation_from_plain($0.baseAddress!, dims) }) else {
            let _: BlockedActivation? = BlockedActivation.failed("allocation", -1)
            return nil
        }
        self.init(handle: handle)
    }

    /// A new activation of this one's dims and layout, its values unset.
    private func empty() -> BlockedActivation? {
        guard let handle = vip_activation_like(handle) else { return BlockedActivation.failed("allocation", -1) }
        return BlockedActivation(handle: handle)
    }

    deinit { vip_activation_free(handle) }

    /// The values as a plain N x C x T x H x W tensor (nil if oneDNN failed, with its message on
    /// standard error).
    public func tensor() -> Tensor? {
        var out = uninitializedFloats(shape.reduce(1, *))
        let status = out.withUnsafeMutableBufferPointer { vip_activation_to_plain(handle, $0.baseAddress!, Int32(BLAS.threads)) }
        guard status == 0 else { return BlockedActivation.failed("reorder to N x C x T x H x W", status) }
        return Tensor(shape: shape, data: out)
    }

    /// bn(conv(self)), then max(., 0) when `relu`; `bn` with its running statistics, as in
    /// evaluation. Nil where this path does not apply (a grouped or biased convolution, a backend
    /// other than exact oneDNN) or oneDNN failed: the caller then runs the plain ops.
    public func convBatchNorm(_ conv: Conv3d, _ bn: BatchNorm, relu: Bool) -> BlockedActivation? {
        guard ConvolutionBackend.current == .onednn, conv.groups == 1, conv.bias == nil, !conv.samePadding else { return nil }
        let c = shape[1], o = conv.weight.shape[0]
        guard conv.weight.shape[1] == c, bn.running_mean.count == o else { return nil }
        let window = Window3D(kernel: Array(conv.weight.shape[2...]), stride: conv.stride, padding: conv.padding, dilation: conv.dilation)
        let plan = ConvPlan(input: Array(shape[2...]), channels: c, outputs: o, groups: 1, window: window)
        var geometry = OneDNNConvolution(plan, batch: shape[0], bf16: false).geometry
        var result: OpaquePointer?
        let status = conv.weight.data.withUnsafeBufferPointer { w in
            vip_conv_blocked(&geometry, Int32(BLAS.threads), handle, w.baseAddress!, &result)
        }
        guard status == 0, let result else { return BlockedActivation.failed("convolution", status) }
        return BlockedActivation(handle: result).batchNormed(bn, relu: relu)
    }

    /// Batch norm with running statistics (then max(., 0) when `relu`) in this layout: per value,
    /// ((x - mean) inv_std) gamma + beta, the batch norm op's arithmetic, whatever the layout.
    func batchNormed(_ bn: BatchNorm, relu: Bool) -> BlockedActivation? {
        var block: Int64 = 0
        var strides = [Int64](repeating: 0, count: 5)
        guard vip_activation_blocking(handle, &block, &strides) == 0 else {
            return tensor().flatMap { BlockedActivation(bn($0, relu: relu)) }   // a layout this loop does not know
        }
        let (b, st) = (Int(block), strides.map(Int.init))
        let (n, c, frames, height, width) = (shape[0], shape[1], shape[2], shape[3], shape[4])
        let blocks = (c + b - 1) / b
        // Per channel, padded to whole blocks with zeros (the padding's values stay 0).
        func padded(_ v: [Float]) -> [Float] { v + [Float](repeating: 0, count: blocks * b - c) }
        let mean = padded(bn.running_mean.data), gamma = padded(bn.weight.data), beta = padded(bn.bias.data)
        let invStd = padded(Tensor.inverseStandardDeviations(bn.running_var.data, eps: bn.eps))
        guard let out = empty() else { return nil }
        var count: Int64 = 0
        let (x, y) = (UnsafePointer(vip_activation_data(handle, &count)!), vip_activation_data(out.handle, &count)!)
        mean.withUnsafeBufferPointer { mp in invStd.withUnsafeBufferPointer { sp in
            gamma.withUnsafeBufferPointer { gp in beta.withUnsafeBufferPointer { bp in
                Parallel.forEach(n * blocks, minimumChunk: 1) { range in
                    for item in range {
                        let (i, cb) = (item / blocks, item % blocks)
                        let (mu, s, g, be) = (mp.baseAddress! + cb * b, sp.baseAddress! + cb * b, gp.baseAddress! + cb * b, bp.baseAddress! + cb * b)
                        for t in 0..<frames { for h in 0..<height { for w in 0..<width {
                            let o = i * st[0] + cb * st[1] + t * st[2] + h * st[3] + w * st[4]
                            let (xo, yo) = (x + o, y + o)
                            if relu {
                                for l in 0..<b { yo[l] = max((xo[l] - mu[l]) * s[l] * g[l] + be[l], 0) }
                            } else {
                                for l in 0..<b { yo[l] = (xo[l] - mu[l]) * s[l] * g[l] + be[l] }
                            }
                        } } }
                    }
                }
            } }
        } }
        return out
    }

    /// max(self + other, 0) elementwise (a residual block's sum and ReLU, `Tensor.addingReLU`'s
    /// arithmetic), in this activation's layout.
    public func addingReLU(_ other: BlockedActivation) -> BlockedActivation? {
        guard shape == other.shape else { return nil }
        var same = other
        if vip_activation_same_layout(handle, other.handle) == 0 {
            var copy: OpaquePointer?
            let status = vip_activation_reordered_like(other.handle, handle, Int32(BLAS.threads), &copy)
            guard status == 0, let copy else { return BlockedActivation.failed("reorder of a residual", status) }
            same = BlockedActivation(handle: copy)
        }
        guard let out = empty() else { return nil }
        // `same` may be a copy only this function holds: kept alive while its buffer is read.
        withExtendedLifetime(same) {
            var count: Int64 = 0
            let (a, b, y) = (vip_activation_data(handle, &count)!, vip_activation_data(same.handle, &count)!, vip_activation_data(out.handle, &count)!)
            Tensor.addReLU(a, b, into: y, Int(count))
        }
        return out
    }

    private nonisolated(unsafe) static var warned = false
    private static func failed<T>(_ what: String, _ status: Int32) -> T? {
        if !warned {
            warned = true
            FileHandle.standardError.write(Data(("vipbench: oneDNN inference \(what) failed (\(String(cString: vip_dnnl_error())), "
                                                 + "status \(status)); using the engine's own ops\n").utf8))
        }
        return nil
    }
}
