import CDNNL
import Foundation

/// Which kernels run ungrouped 3D convolutions (forward, backward data, backward weight).
///
/// `onednn` is the default: oneDNN's direct convolutions, the kernels under PyTorch's CPU
/// convolutions, with blocked layouts and JIT code for the CPU it runs on (chosen at run time, so
/// AVX2-only machines get AVX2 kernels). `gemm` is the engine's own lowering (vol2col and OpenBLAS's
/// SGEMM): the reference the oneDNN path is tested against. Both are exact FP32; they differ only in
/// the order of float sums. Grouped and depthwise convolutions always run the engine's own loops.
public enum ConvolutionBackend: String, CaseIterable, Sendable {
    case onednn
    /// The fast mode: oneDNN with BF16 multiplies (operands rounded to BF16, sums in FP32), on CPUs
    /// with AVX-512 BF16 instructions; elsewhere it runs as `onednn` and says so in `summary`.
    case onednnBF16 = "onednn-bf16"
    case gemm

    /// The backends whose results are exact FP32 (within float summation order).
    public static let exact: [ConvolutionBackend] = [.onednn, .gemm]

    /// The backend for the next convolution; `VIPBENCH_CONVOLUTION=gemm` selects the reference.
    public nonisolated(unsafe) static var current: ConvolutionBackend = {
        ProcessInfo.processInfo.environment["VIPBENCH_CONVOLUTION"].flatMap(ConvolutionBackend.init(rawValue:)) ?? .onednn
    }()

    /// Runs `body` with `backend`, then restores the previous one.
    public static func with<T>(_ backend: ConvolutionBackend, _ body: () throws -> T) rethrows -> T {
        let previous = current
        current = backend
        defer { current = previous }
        return try body()
    }

    /// Whether this CPU has oneDNN's BF16 convolutions (the fast mode).
    public static let hasBF16 = vip_dnnl_has_bf16() != 0

    /// oneDNN's version and the instruction set its kernels use here: "2.6.3 (avx512_core_bf16)".
    public static var oneDNNVersion: String {
        let parts = String(cString: vip_dnnl_describe()).split(separator: " ", maxSplits: 1)
        return "\(parts.first ?? "") (\(parts.count > 1 ? parts[1] : "unknown ISA"))"
    }

    /// What runs convolutions now, for provenance: "oneDNN 2.6.3 (avx512_core_bf16), FP32",
    /// "oneDNN 2.6.3 (avx512_core_bf16), BF16 multiplies" or "vol2col + SGEMM".
    public static var summary: String {
        let oneDNN = "oneDNN \(oneDNNVersion)"
        switch current {
        case .onednn: return oneDNN + ", FP32"
        case .onednnBF16: return oneDNN + (hasBF16 ? ", BF16 multiplies" : ", FP32 (no BF16 kernels on this CPU)")
        case .gemm: return "vol2col + SGEMM"
        }
    }
}

/// The native kernels behind the engine's numbers, as runs record them: the GEMM's library, the
/// convolution backend, and OpenBLAS's build (loaded for its thread setting and comparisons).
public var engineLibraries: String {
    "GEMM: oneDNN \(ConvolutionBackend.oneDNNVersion); convolutions: \(ConvolutionBackend.summary); \(BLAS.configuration)"
}

/// oneDNN's calls for one ungrouped convolution's geometry, on the engine's BLAS thread count.
struct OneDNNConvolution {
    var geometry: vip_conv_geometry
    let threads = Int32(BLAS.threads)

    init(_ plan: ConvPlan, batch: Int, bf16: Bool) {
        geometry = vip_conv_geometry()
        geometry.bf16 = bf16 ? 1 : 0
        geometry.batch = Int64(batch); geometry.channels = Int64(plan.channels); geometry.outputs = Int64(plan.outputs)
        func triple(_ v: [Int]) -> (Int64, Int64, Int64) { (Int64(v[0]), Int64(v[1]), Int64(v[2])) }
        geometry.input = triple(plan.input); geometry.output = triple(plan.output)
        geometry.kernel = triple(plan.window.kernel); geometry.stride = triple(plan.window.stride)
        geometry.pad_before = triple(plan.window.padding.before); geometry.pad_after = triple(plan.window.padding.after)
        geometry.dilation = triple(plan.window.dilation)
    }

    /// Whether oneDNN ran; on a failure (which it reports, naming the cause) the caller falls back
    /// to the engine's own lowering, once warned.
    private func ran(_ what: String, _ status: Int32) -> Bool {
        if status == 0 { return true }
        OneDNNConvolution.warnOnce("vipbench: oneDNN \(what) failed (\(String(cString: vip_dnnl_error())), status \(status)); "
                                   + "using the engine's own convolution for it")
        return false
    }

    private nonisolated(unsafe) static var warned = false
    private static func warnOnce(_ message: String) {
        if warned { return }
        warned = true
        FileHandle.standardError.write(Data((message + "\n").utf8))
    }

    func forward(_ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>) -> Bool {
        withUnsafePointer(to: geometry) { g in ran("convolution forward", vip_conv_forward(g, threads, x, w, y)) }
    }

    /// Both backward passes in one call (either output may be nil): the output gradient is
    /// reordered into oneDNN's layout once for the two.
    func backward(_ x: UnsafePointer<Float>, _ gy: UnsafePointer<Float>, _ w: UnsafePointer<Float>,
                  _ gx: UnsafeMutablePointer<Float>?, _ gw: UnsafeMutablePointer<Float>?) -> Bool {
        withUnsafePointer(to: geometry) { g in ran("convolution backward", vip_conv_backward(g, threads, x, gy, w, gx, gw)) }
    }
}
