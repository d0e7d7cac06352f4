import ArgumentParser
import Engine

extension ConvolutionBackend: ExpressibleByArgument {}

/// `--convolution`, shared by the commands that run networks (bench model, train, pretrain, reproduce).
struct ConvolutionOptions: ParsableArguments {
    @Option(name: .customLong("convolution"), help: ArgumentHelp("""
        Convolution kernels: onednn (exact FP32, the default), onednn-bf16 (the fast mode: BF16 multiplies, \
        FP32 sums; FP32 on CPUs without BF16 kernels; in training a configuration of its own, so its results \
        never mix with exact ones), gemm (the engine's own vol2col + SGEMM, exact). Default: \
        $VIPBENCH_CONVOLUTION (in training only if exact), else onednn.
        """, valueName: "backend"))
    var backend: ConvolutionBackend?

    /// Whether the fast mode was asked for (in training, part of the configuration and its hash).
    var bf16: Bool { backend == .onednnBF16 }

    /// Makes the chosen backend the process's, so that what every run records names it.
    func select() { if let backend { ConvolutionBackend.current = backend } }
}
