// A C face over oneDNN's 3D convolutions (the kernels under PyTorch's CPU convolutions), for the
// engine's Swift code: plain N x C x T x H x W buffers in and out, primitives cached by shape.
#ifndef VIP_DNNL_H
#define VIP_DNNL_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// One ungrouped convolution's geometry; dilation as PyTorch counts it (1 = none). `bf16` = 1
/// multiplies in BF16 (operands rounded, sums in FP32: the fast mode), 0 in FP32.
typedef struct {
    int64_t batch, channels, outputs, bf16;
    int64_t input[3], output[3], kernel[3], stride[3], pad_before[3], pad_after[3], dilation[3];
} vip_conv_geometry;

/// Each runs on `threads` OpenMP threads (the calling thread's setting). Returns 0 on success,
/// otherwise a oneDNN status (or -1), with `vip_dnnl_error()` saying what failed.
int vip_conv_forward(const vip_conv_geometry *g, int threads, const float *src, const float *weight, float *dst);
/// Both backward passes of one convolution: `diff_src` (when not NULL) and `diff_weight` (when not
/// NULL), with `diff_dst` reordered into oneDNN's layout once when both passes want the same one.
int vip_conv_backward(const vip_conv_geometry *g, int threads, const float *src, const float *diff_dst,
                      const float *weight, float *diff_src, float *diff_weight);

/// Row-major single-precision GEMM through oneDNN's own JIT kernels (`dnnl_sgemm`, chosen for the
/// CPU at run time): C = alpha * op(A) * op(B) + beta * C on `threads` OpenMP threads (one inside
/// another parallel region). Returns 0 on success, otherwise a oneDNN status.
int vip_sgemm(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float *a, int64_t lda,
              const float *b, int64_t ldb, float beta, float *c, int64_t ldc, int threads);

/// Runs `body(context, i)` for every i in [0, chunks) on up to `threads` threads of the OpenMP team
/// oneDNN uses (so the engine's own loops and oneDNN's kernels share one set of warm threads
/// instead of two pools competing for the cores). Thread k runs chunks k, k + team, ...; inside
/// another parallel region the calling thread runs them all.
void vip_parallel_chunks(int64_t chunks, int threads, void (*body)(void *context, int64_t chunk), void *context);

/// Whether this CPU runs BF16 convolutions (oneDNN has kernels for AVX-512 and later only).
int vip_dnnl_has_bf16(void);

/// The last failure's message on this thread ("" when none).
const char *vip_dnnl_error(void);
/// oneDNN's version and the instruction set its kernels were chosen for, e.g. "2.6.3 avx512_core".
const char *vip_dnnl_describe(void);

#ifdef __cplusplus
}
#endif
#endif
