// See include/vip_vecmath.h. Each kernel is written once (static inline, plain C with clang's
// vector extensions for the fixed 8-lane sums) and instantiated for three targets; the first call
// picks the widest the CPU supports. No FMA contraction: a fused multiply-add rounds once where
// the Swift code (baseline x86-64, no FMA) rounds twice, and results would differ by CPU.
#include "vip_vecmath.h"
#include <stdint.h>
#include <string.h>

#pragma clang fp contract(off)

typedef float v8f __attribute__((ext_vector_type(8)));

static inline __attribute__((always_inline)) float bits_to_float(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }
static inline __attribute__((always_inline)) uint32_t float_to_bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }

// Swift's min / max on Float: max(a, b) = b >= a ? b : a, min(a, b) = b < a ? b : a.
static inline __attribute__((always_inline)) float vmax(float a, float b) { return b >= a ? b : a; }
static inline __attribute__((always_inline)) float vmin(float a, float b) { return b < a ? b : a; }

// FastMath.swift's fastExp, operation for operation.
static inline __attribute__((always_inline)) float fast_exp(float v) {
    float x0 = vmin(vmax(v, -87.33654f), 88.72283f);
    float n = (x0 * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    float x = x0 - n * 0.693359375f + n * 2.12194440e-4f;
    float z = x * x;
    float y = 1.9875691500e-4f;
    y = y * x + 1.3981999507e-3f;
    y = y * x + 8.3334519073e-3f;
    y = y * x + 4.1665795894e-2f;
    y = y * x + 1.6666665459e-1f;
    y = y * x + 5.0000001201e-1f;
    y = y * z + x + 1.0f;
    uint32_t biased = float_to_bits(n + 127.0f + 12582912.0f);
    return y * bits_to_float(biased << 23);
}

// FastMath.swift's fastErf.
static inline __attribute__((always_inline)) float fast_erf(float x) {
    float a = __builtin_fabsf(x);   // Swift's abs: the sign bit cleared
    float t = 1.0f / (1.0f + 0.3275911f * a);
    float p = 1.061405429f;
    p = p * t - 1.453152027f;
    p = p * t + 1.421413741f;
    p = p * t - 0.284496736f;
    p = p * t + 0.254829592f;
    float e = 1.0f - p * t * fast_exp(-a * a);
    return x < 0 ? -e : e;
}

static inline __attribute__((always_inline)) void gelu_body(const float *restrict x, float *restrict y, long n) {
    for (long i = 0; i < n; i++) {
        float v = x[i];
        y[i] = 0.5f * v * (1.0f + fast_erf(v * 0.70710678118654752f));
    }
}

static inline __attribute__((always_inline)) void gelu_backward_body(const float *restrict x, const float *restrict g,
                                                                     float *restrict d, long n) {
    for (long i = 0; i < n; i++) {
        float v = x[i];
        float cdf = 0.5f * (1.0f + fast_erf(v * 0.70710678118654752f));
        d[i] = g[i] * (cdf + v * 0.39894228040143268f * fast_exp(-0.5f * v * v));
    }
}

// Softmax.swift's laneMax / laneSum: eight interleaved lanes, then a fixed tree, then the tail.
static inline __attribute__((always_inline)) float lane_max(const float *p, long n) {
    v8f acc = (v8f)(-__builtin_inff());
    long k = 0;
    for (; k + 8 <= n; k += 8) {
        v8f v; memcpy(&v, p + k, 32);
        acc = v > acc ? v : acc;
    }
    float m = -__builtin_inff();
    for (int j = 0; j < 8; j++) m = vmax(m, acc[j]);
    for (; k < n; k++) m = vmax(m, p[k]);
    return m;
}

static inline __attribute__((always_inline)) float lane_sum(const float *p, long n) {
    v8f acc = (v8f)(0.0f);
    long k = 0;
    for (; k + 8 <= n; k += 8) {
        v8f v; memcpy(&v, p + k, 32);
        acc += v;
    }
    float s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
    for (; k < n; k++) s += p[k];
    return s;
}

static inline __attribute__((always_inline)) void softmax_body(const float *restrict x, float *restrict y, long rows, long d) {
    for (long r = 0; r < rows; r++) {
        const float *xr = x + r * d;
        float *yr = y + r * d;
        float m = lane_max(xr, d);
        for (long k = 0; k < d; k++) yr[k] = fast_exp(xr[k] - m);
        float inv = 1.0f / lane_sum(yr, d);
        for (long k = 0; k < d; k++) yr[k] *= inv;
    }
}

// One table of kernels per width; the dispatch below reads the chosen table, so adding a kernel
// is one line in VIP_INSTANCES and one entry in the table type.
typedef struct {
    int width;
    void (*gelu)(const float *, float *, long);
    void (*gelu_backward)(const float *, const float *, float *, long);
    void (*softmax)(const float *, float *, long, long);
} kernels;

#define VIP_INSTANCES(suffix, bits, attr)                                                                       \
    attr static void gelu_##suffix(const float *x, float *y, long n) { gelu_body(x, y, n); }                   \
    attr static void gelu_backward_##suffix(const float *x, const float *g, float *d, long n) {                 \
        gelu_backward_body(x, g, d, n);                                                                         \
    }                                                                                                           \
    attr static void softmax_##suffix(const float *x, float *y, long rows, long d) { softmax_body(x, y, rows, d); } \
    static const kernels kernels_##suffix = {bits, gelu_##suffix, gelu_backward_##suffix, softmax_##suffix};

#if defined(__x86_64__)
VIP_INSTANCES(avx512, 512, __attribute__((target("avx512f,avx512dq,avx512vl,avx2,fma"))))
VIP_INSTANCES(avx2, 256, __attribute__((target("avx2,fma"))))
#endif
VIP_INSTANCES(base, 128, )

int vip_vecmath_widest(void) {
    int w = 128;
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl")) w = 512;
    else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) w = 256;
#endif
    return w;
}

static const kernels *table_for(int w) {
#if defined(__x86_64__)
    if (w == 512) return &kernels_avx512;
    if (w == 256) return &kernels_avx2;
#endif
    return &kernels_base;
}

static const kernels *chosen = 0;   // set on first use; only tests change it later

static const kernels *current(void) {
    const kernels *k = __atomic_load_n(&chosen, __ATOMIC_ACQUIRE);
    if (!k) {
        k = table_for(vip_vecmath_widest());
        __atomic_store_n(&chosen, k, __ATOMIC_RELEASE);
    }
    return k;
}

int vip_vecmath_width(void) { return current()->width; }

int vip_vecmath_use_width(int w) {
    if ((w != 128 && w != 256 && w != 512) || w > vip_vecmath_widest()) return -1;
    int before = vip_vecmath_width();
    __atomic_store_n(&chosen, table_for(w), __ATOMIC_RELEASE);
    return before;
}

void vip_gelu(const float *x, float *y, long n) { current()->gelu(x, y, n); }

void vip_gelu_backward(const float *x, const float *g, float *d, long n) { current()->gelu_backward(x, g, d, n); }

void vip_softmax_rows(const float *x, float *y, long rows, long d) { current()->softmax(x, y, rows, d); }
