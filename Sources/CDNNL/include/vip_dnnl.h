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

/// Inference in oneDNN's own layouts, for the ResNets' chains of convolution + batch norm
/// (+ residual) (+ ReLU): activations stay in the (blocked) layout oneDNN's convolutions pick
/// instead of returning to N x C x T x H x W around each one; the engine runs batch norm, the
/// residual sums and the ReLUs on them (`vip_activation_blocking` says where each value is).
typedef struct vip_activation vip_activation;
/// An activation holding a copy of the plain N x C x T x H x W buffer `data` of dims `dims` (NULL
/// if it could not be allocated, with `vip_dnnl_error()` saying why).
vip_activation *vip_activation_from_plain(const float *data, const int64_t dims[5]);
/// Its dims (N, C, T, H, W).
void vip_activation_dims(const vip_activation *a, int64_t dims[5]);
/// Writes its values as a plain N x C x T x H x W buffer. Returns 0 or an error as above.
int vip_activation_to_plain(const vip_activation *a, float *out, int threads);
void vip_activation_free(vip_activation *a);
/// A new activation of a's dims and layout, its values unset (NULL as above).
vip_activation *vip_activation_like(const vip_activation *a);
/// Its buffer and the number of floats in it (a blocked layout's padding included).
float *vip_activation_data(const vip_activation *a, int64_t *count);
/// Whether a and b have the same dims and layout (so their buffers correspond element by element).
int vip_activation_same_layout(const vip_activation *a, const vip_activation *b);
/// A copy of a in the layout of `layout` (same dims). Returns 0 or an error as above.
int vip_activation_reordered_like(const vip_activation *a, const vip_activation *layout, int threads, vip_activation **out);
/// Where value (n, c, t, h, w) is: n s0 + (c / block) s1 + t s2 + h s3 + w s4 + c % block, for
/// layouts blocked at most over channels (returns 0), else -1.
int vip_activation_blocking(const vip_activation *a, int64_t *block, int64_t strides[5]);
/// conv(x) (FP32, no bias) with the same primitive as `vip_conv_forward`, in its output layout.
/// Returns 0 with the result in *out, or an error as above (*out untouched).
int vip_conv_blocked(const vip_conv_geometry *g, int threads, const vip_activation *x, const float *weight,
                     vip_activation **out);
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
