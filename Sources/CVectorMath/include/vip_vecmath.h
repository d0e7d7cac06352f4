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

#ifdef __cplusplus
}
#endif
#endif
