// oneDNN's convolutions behind vip_dnnl.h. Each shape's forward, backward-data and backward-weight
// primitives are created once (oneDNN picks its blocked layouts through format `any`) and reused;
// every call reorders the plain buffers into those layouts and the result back.
#include "vip_dnnl.h"

#include <dnnl.hpp>

#include <cstring>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

// libgomp, which oneDNN runs its threads on (declared here: the toolchain's clang has no omp.h).
extern "C" {
void omp_set_num_threads(int);
int omp_get_thread_num(void);
int omp_get_num_threads(void);
void GOMP_parallel(void (*fn)(void *), void *data, unsigned num_threads, unsigned flags);
}

using namespace dnnl;
using tag = memory::format_tag;
using dt = memory::data_type;

namespace {

thread_local std::string lastError;



engine &cpu() {
    static engine e(engine::kind::cpu, 0);
    return e;
}

using Key = std::vector<int64_t>;

Key keyOf(const vip_conv_geometry *g, int threads) {
    // oneDNN splits the work for the thread count a primitive is created under.
    Key k{threads, g->bf16, g->batch, g->channels, g->outputs};
    for (int i = 0; i < 3; ++i) {
        k.insert(k.end(), {g->input[i], g->output[i], g->kernel[i], g->stride[i], g->pad_before[i],
                           g->pad_after[i], g->dilation[i]});
    }
    return k;
}

// Whether oneDNN implements a primitive by lowering it to a GEMM rather than with a JIT kernel.
bool isGemm(const primitive_desc_base &pd) { return std::string(pd.impl_info_str()).find("gemm") != std::string::npos; }

struct Plan {
    memory::desc src, weight, dst;  // plain layouts of the caller's buffers
    convolution_forward::primitive_desc forward;
    convolution_backward_data::primitive_desc backwardData;
    convolution_backward_weights::primitive_desc backwardWeight;
    convolution_forward forwardPrimitive;
    convolution_backward_data backwardDataPrimitive;
    convolution_backward_weights backwardWeightPrimitive;

    explicit Plan(const vip_conv_geometry *g) {
        memory::dims s{g->batch, g->channels, g->input[0], g->input[1], g->input[2]};
        memory::dims w{g->outputs, g->channels, g->kernel[0], g->kernel[1], g->kernel[2]};
        memory::dims d{g->batch, g->outputs, g->output[0], g->output[1], g->output[2]};
        memory::dims strides(g->stride, g->stride + 3), before(g->pad_before, g->pad_before + 3),
            after(g->pad_after, g->pad_after + 3), dilation{g->dilation[0] - 1, g->dilation[1] - 1, g->dilation[2] - 1};
        src = memory::desc(s, dt::f32, tag::ncdhw);
        weight = memory::desc(w, dt::f32, tag::oidhw);
        dst = memory::desc(d, dt::f32, tag::ncdhw);
        // BF16 multiplies (fast mode): the operands oneDNN reads are BF16, what it writes and
        // accumulates is FP32; the reorders into its layouts round them.
        const dt in = g->bf16 ? dt::bf16 : dt::f32;
        memory::desc srcAny(s, dt::f32, tag::any), weightAny(w, dt::f32, tag::any), dstAny(d, dt::f32, tag::any),
            srcIn(s, in, tag::any), weightIn(w, in, tag::any), dstIn(d, in, tag::any);
        forward = convolution_forward::primitive_desc(
            convolution_forward::desc(prop_kind::forward_training, algorithm::convolution_direct, srcIn, weightIn,
                                      dstAny, strides, dilation, before, after),
            cpu());
        // Backward passes of layers with fewer than 16 input channels (the scaled profiles' first
        // stage): with format `any` oneDNN 2.6 picks its blocked layout, for which it has no JIT
        // backward-weight kernel at these channel counts and falls back to a scalar im2col and a
        // GEMM; with channels-last activations it has JIT kernels for both backward passes (measured
        // at 8 channels, 16x8x16x16, 2 threads: backward weight 6.8 -> 0.8 ms, backward data
        // 2.2 -> 0.8 ms, reorders included). The forward pass stays blocked (it is faster there), and
        // so does a backward pass whose channels-last form would be a GEMM where the blocked is not
        // (other CPUs). The choice depends on the shape and the CPU only, so reruns stay bit-identical.
        memory::desc srcLast(s, dt::f32, tag::ndhwc), srcInLast(s, in, tag::ndhwc), dstInLast(d, in, tag::ndhwc);
        const bool fewChannels = g->channels < 16;
        auto backwardDataFor = [&](const memory::desc &diffSrc, const memory::desc &diffDst) {
            return convolution_backward_data::primitive_desc(
                convolution_backward_data::desc(algorithm::convolution_direct, diffSrc, weightIn, diffDst, strides,
                                                dilation, before, after),
                cpu(), forward);
        };
        auto backwardWeightFor = [&](const memory::desc &source, const memory::desc &diffDst) {
            return convolution_backward_weights::primitive_desc(
                convolution_backward_weights::desc(algorithm::convolution_direct, source, weightAny, diffDst, strides,
                                                   dilation, before, after),
                cpu(), forward);
        };
        backwardData = backwardDataFor(srcAny, dstIn);
        backwardWeight = backwardWeightFor(srcIn, dstIn);
        if (fewChannels) {
            auto channelsLast = backwardDataFor(srcLast, dstInLast);
            if (!isGemm(channelsLast) || isGemm(backwardData)) backwardData = channelsLast;
        }
        if (fewChannels && isGemm(backwardWeight)) {
            auto channelsLast = backwardWeightFor(srcInLast, dstInLast);
            if (!isGemm(channelsLast)) backwardWeight = channelsLast;
        }
        forwardPrimitive = convolution_forward(forward);
        backwardDataPrimitive = convolution_backward_data(backwardData);
        backwardWeightPrimitive = convolution_backward_weights(backwardWeight);
    }
};

std::mutex plansLock;
std::map<Key, std::shared_ptr<Plan>> plans;

std::shared_ptr<Plan> planFor(const vip_conv_geometry *g, int threads) {
    omp_set_num_threads(threads > 0 ? threads : 1);
    Key key = keyOf(g, threads);
    std::lock_guard<std::mutex> hold(plansLock);
    auto found = plans.find(key);
    if (found != plans.end()) return found->second;
    auto plan = std::make_shared<Plan>(g);
    plans.emplace(key, plan);
    return plan;
}

// One of a primitive's buffers: its argument, the caller's plain layout and pointer, and the
// layout the primitive wants.
struct Operand {
    int argument;
    const memory::desc &plain, &wanted;
    const float *data;
};

// The caller's buffer in the layout `wanted`: the buffer itself, or a reordered copy.
// `m` in layout `wanted`: itself, or a reordered copy.
memory inLayout(const stream &s, const memory &m, const memory::desc &wanted) {
    if (m.get_desc() == wanted) return m;
    memory copy(wanted, cpu());
    reorder(m, copy).execute(s, const_cast<memory &>(m), copy);
    return copy;
}

memory inLayout(const stream &s, const memory::desc &plain, const memory::desc &wanted, const float *data) {
    return inLayout(s, memory(plain, cpu(), const_cast<float *>(data)), wanted);
}

// Runs `op` on the caller's buffers: inputs reordered into the primitive's layouts where they differ
// (or given already in them through `ready`), the output computed in its layout and reordered back
// into the caller's buffer.
void execute(const primitive &op, std::initializer_list<Operand> inputs, const Operand &output,
             std::initializer_list<std::pair<int, memory>> ready = {}) {
    stream s(cpu());
    std::unordered_map<int, memory> arguments;
    for (const auto &r : ready) arguments.emplace(r.first, r.second);
    for (const Operand &in : inputs) arguments.emplace(in.argument, inLayout(s, in.plain, in.wanted, in.data));
    memory user(output.plain, cpu(), const_cast<float *>(output.data));
    memory result = output.wanted == output.plain ? user : memory(output.wanted, cpu());
    arguments.emplace(output.argument, result);
    op.execute(s, arguments);
    if (result.get_data_handle() != user.get_data_handle()) reorder(result, user).execute(s, result, user);
    s.wait();
}

template <typename Body> int guarded(Body body) {
    try {
        body();
        lastError.clear();
        return 0;
    } catch (const dnnl::error &e) {
        lastError = e.what();
        return e.status == 0 ? -1 : static_cast<int>(e.status);
    } catch (const std::exception &e) {
        lastError = e.what();
        return -1;
    }
}

}  // namespace

extern "C" int vip_conv_forward(const vip_conv_geometry *g, int threads, const float *src, const float *weight, float *dst) {
    return guarded([&] {
        auto p = planFor(g, threads);
        execute(p->forwardPrimitive,
                {{DNNL_ARG_SRC, p->src, p->forward.src_desc(), src}, {DNNL_ARG_WEIGHTS, p->weight, p->forward.weights_desc(), weight}},
                {DNNL_ARG_DST, p->dst, p->forward.dst_desc(), dst});
    });
}

namespace {
// One backward pass; `gradient` is the output gradient already in the pass's layout, when given.
void backwardData(const Plan &p, const float *diff_dst, const float *weight, float *diff_src, const memory *gradient) {
    const Operand w{DNNL_ARG_WEIGHTS, p.weight, p.backwardData.weights_desc(), weight};
    const Operand out{DNNL_ARG_DIFF_SRC, p.src, p.backwardData.diff_src_desc(), diff_src};
    if (gradient) execute(p.backwardDataPrimitive, {w}, out, {{DNNL_ARG_DIFF_DST, *gradient}});
    else execute(p.backwardDataPrimitive, {{DNNL_ARG_DIFF_DST, p.dst, p.backwardData.diff_dst_desc(), diff_dst}, w}, out);
}

void backwardWeight(const Plan &p, const float *src, const float *diff_dst, float *diff_weight, const memory *gradient) {
    const Operand x{DNNL_ARG_SRC, p.src, p.backwardWeight.src_desc(), src};
    const Operand out{DNNL_ARG_DIFF_WEIGHTS, p.weight, p.backwardWeight.diff_weights_desc(), diff_weight};
    if (gradient) execute(p.backwardWeightPrimitive, {x}, out, {{DNNL_ARG_DIFF_DST, *gradient}});
    else execute(p.backwardWeightPrimitive, {x, {DNNL_ARG_DIFF_DST, p.dst, p.backwardWeight.diff_dst_desc(), diff_dst}}, out);
}
}  // namespace

extern "C" int vip_conv_backward(const vip_conv_geometry *g, int threads, const float *src, const float *diff_dst,
                                 const float *weight, float *diff_src, float *diff_weight) {
    return guarded([&] {
        auto p = planFor(g, threads);
        // Both passes wanting the output gradient in one layout: one reorder, read by both
        // (identical values to two reorders).
        if (diff_src && diff_weight && p->backwardData.diff_dst_desc() == p->backwardWeight.diff_dst_desc()) {
            stream s(cpu());
            memory gradient = inLayout(s, p->dst, p->backwardData.diff_dst_desc(), diff_dst);
            s.wait();
            backwardData(*p, diff_dst, weight, diff_src, &gradient);
            backwardWeight(*p, src, diff_dst, diff_weight, &gradient);
            return;
        }
        if (diff_src) backwardData(*p, diff_dst, weight, diff_src, nullptr);
        if (diff_weight) backwardWeight(*p, src, diff_dst, diff_weight, nullptr);
    });
}

struct vip_activation {
    memory value;
};

extern "C" vip_activation *vip_activation_from_plain(const float *data, const int64_t dims[5]) {
    vip_activation *a = nullptr;
    guarded([&] {
        memory::desc plain(memory::dims(dims, dims + 5), dt::f32, tag::ncdhw);
        a = new vip_activation{memory(plain, cpu())};
        std::memcpy(a->value.get_data_handle(), data, plain.get_size());
    });
    return a;
}

extern "C" void vip_activation_dims(const vip_activation *a, int64_t dims[5]) {
    auto d = a->value.get_desc().dims();
    for (int i = 0; i < 5; ++i) dims[i] = d[i];
}

extern "C" int vip_activation_to_plain(const vip_activation *a, float *out, int threads) {
    return guarded([&] {
        omp_set_num_threads(threads > 0 ? threads : 1);
        memory::desc plain(a->value.get_desc().dims(), dt::f32, tag::ncdhw);
        memory user(plain, cpu(), out);
        stream s(cpu());
        if (a->value.get_desc() == plain) std::memcpy(out, a->value.get_data_handle(), plain.get_size());
        else reorder(a->value, user).execute(s, const_cast<memory &>(a->value), user);
        s.wait();
    });
}

extern "C" void vip_activation_free(vip_activation *a) { delete a; }

extern "C" vip_activation *vip_activation_like(const vip_activation *a) {
    vip_activation *copy = nullptr;
    guarded([&] { copy = new vip_activation{memory(a->value.get_desc(), cpu())}; });
    return copy;
}

extern "C" float *vip_activation_data(const vip_activation *a, int64_t *count) {
    *count = static_cast<int64_t>(a->value.get_desc().get_size() / sizeof(float));
    return static_cast<float *>(a->value.get_data_handle());
}

extern "C" int vip_activation_same_layout(const vip_activation *a, const vip_activation *b) {
    return a->value.get_desc() == b->value.get_desc() ? 1 : 0;
}

extern "C" int vip_activation_reordered_like(const vip_activation *a, const vip_activation *layout, int threads,
                                             vip_activation **out) {
    return guarded([&] {
        omp_set_num_threads(threads > 0 ? threads : 1);
        stream s(cpu());
        memory copy(layout->value.get_desc(), cpu());
        reorder(a->value, copy).execute(s, const_cast<memory &>(a->value), copy);
        s.wait();
        *out = new vip_activation{copy};
    });
}

extern "C" int vip_conv_blocked(const vip_conv_geometry *g, int threads, const vip_activation *x, const float *weight,
                                vip_activation **out) {
    return guarded([&] {
        // The plain path's own forward primitive: the same kernel on the same layouts, so the
        // same sums; only the reorders around it go.
        auto p = planFor(g, threads);
        stream s(cpu());
        memory src = inLayout(s, x->value, p->forward.src_desc());
        memory w = inLayout(s, memory(p->weight, cpu(), const_cast<float *>(weight)), p->forward.weights_desc());
        memory dst(p->forward.dst_desc(), cpu());
        p->forwardPrimitive.execute(s, {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, w}, {DNNL_ARG_DST, dst}});
        s.wait();
        *out = new vip_activation{dst};
    });
}

extern "C" int vip_activation_blocking(const vip_activation *a, int64_t *block, int64_t strides[5]) {
    const dnnl_memory_desc_t &d = a->value.get_desc().data;
    if (d.format_kind != dnnl_blocked || d.ndims != 5) return -1;
    const auto &b = d.format_desc.blocking;
    if (b.inner_nblks > 1 || (b.inner_nblks == 1 && b.inner_idxs[0] != 1)) return -1;
    *block = b.inner_nblks == 1 ? b.inner_blks[0] : 1;
    for (int i = 0; i < 5; ++i) strides[i] = b.strides[i];
    return 0;
}

namespace {
struct Chunks {
    int64_t count;
    void (*body)(void *, int64_t);
    void *context;
};

void runChunks(void *data) {
    auto *job = static_cast<Chunks *>(data);
    const int64_t team = omp_get_num_threads();
    for (int64_t i = omp_get_thread_num(); i < job->count; i += team) job->body(job->context, i);
}
}  // namespace

extern "C" void vip_parallel_chunks(int64_t chunks, int threads, void (*body)(void *, int64_t), void *context) {
    Chunks job{chunks, body, context};
    GOMP_parallel(runChunks, &job, static_cast<unsigned>(threads > 0 ? threads : 1), 0);
}

extern "C" int vip_sgemm(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float *a,
                         int64_t lda, const float *b, int64_t ldb, float beta, float *c, int64_t ldc, int threads) {
    if (m == 0 || n == 0) return 0;
    if (k == 0) {   // BLAS's rule: C = beta * C (oneDNN refuses an empty inner dimension)
        for (int64_t i = 0; i < m; ++i)
            for (int64_t j = 0; j < n; ++j) c[i * ldc + j] = beta == 0 ? 0 : beta * c[i * ldc + j];
        return 0;
    }
    omp_set_num_threads(threads > 0 ? threads : 1);
    dnnl_status_t status = dnnl_sgemm(trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    if (status != dnnl_success) lastError = "dnnl_sgemm failed with status " + std::to_string(static_cast<int>(status));
    return static_cast<int>(status);
}

extern "C" int vip_dnnl_has_bf16(void) {
    static const int supported = [] {
        vip_conv_geometry g{};
        g.batch = 1; g.channels = 16; g.outputs = 16; g.bf16 = 1;
        for (int i = 0; i < 3; ++i) {
            g.input[i] = g.output[i] = 4; g.kernel[i] = 3; g.stride[i] = 1; g.pad_before[i] = g.pad_after[i] = 1;
            g.dilation[i] = 1;
        }
        try {
            Plan plan(&g);
            return 1;
        } catch (const std::exception &) {
            return 0;
        }
    }();
    return supported;
}

extern "C" const char *vip_dnnl_error(void) { return lastError.c_str(); }

extern "C" const char *vip_dnnl_describe(void) {
    static std::string text = [] {
        const dnnl_version_t *v = dnnl_version();
        std::string isa;
        switch (get_effective_cpu_isa()) {
        case cpu_isa::sse41: isa = "sse41"; break;
        case cpu_isa::avx: isa = "avx"; break;
        case cpu_isa::avx2: isa = "avx2"; break;
        case cpu_isa::avx512_core: isa = "avx512_core"; break;
        case cpu_isa::avx512_core_vnni: isa = "avx512_core_vnni"; break;
        case cpu_isa::avx512_core_bf16: isa = "avx512_core_bf16"; break;
        case cpu_isa::avx512_core_amx: isa = "avx512_core_amx"; break;
        default: isa = "isa " + std::to_string(static_cast<int>(get_effective_cpu_isa()));
        }
        return std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->patch) + " " + isa;
    }();
    return text.c_str();
}
