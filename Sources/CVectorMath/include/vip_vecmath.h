// Elementwise kernels of the engine compiled for the CPU found at run time (AVX-512, AVX2 or
// baseline x86-64), with the same float operations in the same order as the Swift loops they
// replace (Engine/Ops/FastMath.swift), so every CPU gets bit-identical results.
#ifndef VIP_VECMATH_H
#define VIP_VECMATH_H

#ifdef __cplusplus
extern "C" {
#endif

/// The width of the kernels in use: the widest this CPU runs unless a test chose another.
int vip_vecmath_width(void);

/// The widest kernel set this CPU runs: 512 (AVX-512F/DQ/VL), 256 (AVX2 + FMA) or 128 (baseline SSE2).
int vip_vecmath_widest(void);

/// Tests only: use the kernels of width w (128, 256 or 512) from now on, if the CPU runs them.
/// Returns the width in use before, or -1 (nothing changed) when the CPU does not run width w.
int vip_vecmath_use_width(int w);

/// y[i] = GELU(x[i]) (erf form), i < n.
void vip_gelu(const float *x, float *y, long n);

/// d[i] = g[i] * GELU'(x[i]), i < n.
void vip_gelu_backward(const float *x, const float *g, float *d, long n);

/// Softmax of `rows` rows of length d each (row-major; x and y may not alias).
void vip_softmax_rows(const float *x, float *y, long rows, long d);

// Batch norm over `count` planes of n values (plane i at x + i stride), sums in Double over four
// lanes in a fixed order (vip_vecmath.c), planes added in order.
/// Sum of x.
double vip_bn_channel_sum(const float *x, long count, long stride, long n);
/// Sum of (x - mu)^2.
double vip_bn_channel_squares(const float *x, long count, long stride, long n, double mu);
/// One plane: y = ((x - mu) s) g + b, or max of that and 0 when relu != 0.
void vip_bn_apply(const float *x, float *y, long n, float mu, float s, float g, float b, int relu);
/// Sums of g' and g' (x - mu) s over the planes, g' = g where y > 0 and 0 elsewhere (y: the fused
/// ReLU's output) or g (y null).
void vip_bn_gradient_sums(const float *g, const float *x, const float *y, long count, long stride, long n, float mu, float s,
                          double *sum_g, double *sum_gx);
/// One plane of a training batch norm's input gradient: dx = k1 ((g' - mg) - ((x - mu) s) mgx).
void vip_bn_input_gradient(const float *g, const float *x, const float *y, float *dx, long n, float k1, float mg, float mgx,
                           float mu, float s);

#ifdef __cplusplus
}
#endif
#endif
