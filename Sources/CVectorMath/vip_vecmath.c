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

// Batch norm (Norm.swift). Sums over a plane run in Double in four lanes: lane j takes the
// elements k = j (mod 4) below 4 floor(n / 4) in order, the lanes combine as (l0 + l1) + (l2 + l3),
// then the tail adds in order; a channel's sum adds its planes' sums in plane order. The order is
// fixed, so results do not depend on the vector width or the thread count. Each lane's sum is one
// chain of dependent additions, so several planes run side by side (their chains are independent)
// and still add in plane order.
typedef double v4d __attribute__((ext_vector_type(4)));

// (By pointer: a vector argument would need AVX in the baseline build's calling convention.)
static inline __attribute__((always_inline)) double lanes_total(const v4d *a) { return ((*a)[0] + (*a)[1]) + ((*a)[2] + (*a)[3]); }

typedef float v4f __attribute__((ext_vector_type(4)));

static inline __attribute__((always_inline)) v4f load4f(const float *p) { v4f v; memcpy(&v, p, 16); return v; }

// The sums of `planes` (a constant after inlining) planes of n values, plane j at p + j stride,
// each about mu (squares of x - mu when `squares`).
static inline __attribute__((always_inline)) void plane_sums(const float *p, long stride, long n, int planes, int squares,
                                                             double mu, double *out) {
    v4d acc[4] = {0, 0, 0, 0};
    long k = 0;
    for (; k + 4 <= n; k += 4) {
        for (int j = 0; j < planes; j++) {
            v4d v = __builtin_convertvector(load4f(p + j * stride + k), v4d);
            if (squares) { v -= mu; acc[j] += v * v; } else acc[j] += v;
        }
    }
    for (int j = 0; j < planes; j++) {
        double s = lanes_total(&acc[j]);
        for (long t = k; t < n; t++) {
            double v = (double)p[j * stride + t];
            if (squares) { v -= mu; s += v * v; } else s += v;
        }
        out[j] = s;
    }
}

// Sum over `count` planes (plane i at x + i stride) of the plane sums, in plane order.
static inline __attribute__((always_inline)) double channel_sum_body(const float *x, long count, long stride, long n,
                                                                     int squares, double mu) {
    double total = 0, part[4];
    long i = 0;
    for (; i + 4 <= count; i += 4) {
        plane_sums(x + i * stride, stride, n, 4, squares, mu, part);
        total += part[0]; total += part[1]; total += part[2]; total += part[3];
    }
    for (; i < count; i++) {
        plane_sums(x + i * stride, stride, n, 1, squares, mu, part);
        total += part[0];
    }
    return total;
}

// y = ((x - mu) s) g + b, then max(y, 0) with the ReLU, over one plane.
static inline __attribute__((always_inline)) void bn_apply_body(const float *restrict x, float *restrict y, long n, float mu,
                                                                float s, float g, float b, int relu) {
    if (relu) {
        for (long k = 0; k < n; k++) y[k] = vmax((x[k] - mu) * s * g + b, 0.0f);
    } else {
        for (long k = 0; k < n; k++) y[k] = (x[k] - mu) * s * g + b;
    }
}

// Per plane, in Double lanes as above: sum g' and sum g' x-hat, where x-hat = (x - mu) s and the
// products are Float, and g' is g where the fused ReLU let the output through (y > 0), 0 elsewhere
// (`masked`, a constant after inlining), or g.
static inline __attribute__((always_inline)) void gradient_plane_sums(const float *g, const float *x, const float *y,
                                                                      int masked, long stride, long n, int planes, float mu,
                                                                      float s, double *sg, double *sgx) {
    v4d a[4] = {0, 0, 0, 0}, b[4] = {0, 0, 0, 0};
    long k = 0;
    for (; k + 4 <= n; k += 4) {
        for (int j = 0; j < planes; j++) {
            long o = j * stride + k;
            v4f gv = load4f(g + o);
            if (masked) gv = load4f(y + o) > 0 ? gv : (v4f)(0.0f);
            v4f pv = gv * ((load4f(x + o) - mu) * s);
            a[j] += __builtin_convertvector(gv, v4d);
            b[j] += __builtin_convertvector(pv, v4d);
        }
    }
    for (int j = 0; j < planes; j++) {
        double sa = lanes_total(&a[j]), sb = lanes_total(&b[j]);
        for (long t = k; t < n; t++) {
            long o = j * stride + t;
            float gk = g[o];
            if (masked) gk = y[o] > 0 ? gk : 0.0f;
            sa += (double)gk;
            sb += (double)(gk * ((x[o] - mu) * s));
        }
        sg[j] = sa; sgx[j] = sb;
    }
}

static inline __attribute__((always_inline)) void gradient_sums_planes(const float *g, const float *x, const float *y,
                                                                       int masked, long count, long stride, long n, float mu,
                                                                       float s, double *sum_g, double *sum_gx) {
    double ta = 0, tb = 0, pa[4], pb[4];
    long i = 0;
    for (; i + 4 <= count; i += 4) {
        long o = i * stride;
        gradient_plane_sums(g + o, x + o, y + (masked ? o : 0), masked, stride, n, 4, mu, s, pa, pb);
        for (int j = 0; j < 4; j++) { ta += pa[j]; tb += pb[j]; }
    }
    for (; i < count; i++) {
        long o = i * stride;
        gradient_plane_sums(g + o, x + o, y + (masked ? o : 0), masked, stride, n, 1, mu, s, pa, pb);
        ta += pa[0]; tb += pb[0];
    }
    *sum_g = ta; *sum_gx = tb;
}

static inline __attribute__((always_inline)) void bn_gradient_sums_body(const float *g, const float *x, const float *y,
                                                                        long count, long stride, long n, float mu, float s,
                                                                        double *sum_g, double *sum_gx) {
    if (y) gradient_sums_planes(g, x, y, 1, count, stride, n, mu, s, sum_g, sum_gx);
    else gradient_sums_planes(g, x, x, 0, count, stride, n, mu, s, sum_g, sum_gx);
}

// dx = k1 ((g' - mg) - ((x - mu) s) mgx) over one plane.
static inline __attribute__((always_inline)) void bn_input_gradient_body(const float *restrict g, const float *restrict x,
                                                                         const float *restrict y, float *restrict dx, long n,
                                                                         float k1, float mg, float mgx, float mu, float s) {
    if (y) {
        for (long k = 0; k < n; k++) {
            float gk = g[k], yk = y[k];   // both loaded, so that the select vectorises
            dx[k] = k1 * ((yk > 0 ? gk : 0.0f) - mg - ((x[k] - mu) * s) * mgx);
        }
    } else {
        for (long k = 0; k < n; k++) dx[k] = k1 * (g[k] - mg - ((x[k] - mu) * s) * mgx);
    }
}

// One table of kernels per width; the dispatch below reads the chosen table, so adding a kernel
// is one line in VIP_INSTANCES and one entry in the table type.
typedef struct {
    int width;
    void (*gelu)(const float *, float *, long);
    void (*gelu_backward)(const float *, const float *, float *, long);
    void (*softmax)(const float *, float *, long, long);
    double (*channel_sum)(const float *, long, long, long, int, double);
    void (*bn_apply)(const float *, float *, long, float, float, float, float, int);
    void (*bn_gradient_sums)(const float *, const float *, const float *, long, long, long, float, float, double *, double *);
    void (*bn_input_gradient)(const float *, const float *, const float *, float *, long, float, float, float, float, float);
} kernels;

#define VIP_INSTANCES(suffix, bits, attr)                                                                       \
    attr static void gelu_##suffix(const float *x, float *y, long n) { gelu_body(x, y, n); }                   \
    attr static void gelu_backward_##suffix(const float *x, const float *g, float *d, long n) {                 \
        gelu_backward_body(x, g, d, n);                                                                         \
    }                                                                                                           \
    attr static void softmax_##suffix(const float *x, float *y, long rows, long d) { softmax_body(x, y, rows, d); } \
    attr static double channel_sum_##suffix(const float *x, long count, long stride, long n, int squares, double mu) { \
        return channel_sum_body(x, count, stride, n, squares, mu);                                              \
    }                                                                                                           \
    attr static void bn_apply_##suffix(const float *x, float *y, long n, float mu, float s, float g, float b, int relu) { \
        bn_apply_body(x, y, n, mu, s, g, b, relu);                                                              \
    }                                                                                                           \
    attr static void bn_gradient_sums_##suffix(const float *g, const float *x, const float *y, long count, long stride, \
                                               long n, float mu, float s, double *sg, double *sgx) {            \
        bn_gradient_sums_body(g, x, y, count, stride, n, mu, s, sg, sgx);                                       \
    }                                                                                                           \
    attr static void bn_input_gradient_##suffix(const float *g, const float *x, const float *y, float *dx, long n, \
                                                float k1, float mg, float mgx, float mu, float s) {             \
        bn_input_gradient_body(g, x, y, dx, n, k1, mg, mgx, mu, s);                                             \
    }                                                                                                           \
    static const kernels kernels_##suffix = {bits, gelu_##suffix, gelu_backward_##suffix, softmax_##suffix,     \
                                             channel_sum_##suffix, bn_apply_##suffix, bn_gradient_sums_##suffix, \
                                             bn_input_gradient_##suffix};

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

double vip_bn_channel_sum(const float *x, long count, long stride, long n) { return current()->channel_sum(x, count, stride, n, 0, 0); }

double vip_bn_channel_squares(const float *x, long count, long stride, long n, double mu) {
    return current()->channel_sum(x, count, stride, n, 1, mu);
}

void vip_bn_apply(const float *x, float *y, long n, float mu, float s, float g, float b, int relu) {
    current()->bn_apply(x, y, n, mu, s, g, b, relu);
}

void vip_bn_gradient_sums(const float *g, const float *x, const float *y, long count, long stride, long n, float mu, float s,
                          double *sum_g, double *sum_gx) {
    current()->bn_gradient_sums(g, x, y, count, stride, n, mu, s, sum_g, sum_gx);
}

void vip_bn_input_gradient(const float *g, const float *x, const float *y, float *dx, long n, float k1, float mg, float mgx,
                           float mu, float s) {
    current()->bn_input_gradient(g, x, y, dx, n, k1, mg, mgx, mu, s);
}
