// Tensor wrapper of the compressed E8 shell linear's CUDA kernels.

#include "kernels/e8_shell_linear.h"

#include <atomic>
#include <cstdlib>
#include <string>

#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/torch.h>

#include "core/common/error.h"
#include "kernels/cuda/e8_shell_linear.cuh"
#include "kernels/fwht.h"

namespace glq::kernels::cuda {
namespace {

namespace cl = cuda_launch;

void check(cudaError_t err, const char* what) {
    if (err != cudaSuccess) throw Error("E8 shell linear (CUDA)", std::string(what) + ": " + cudaGetErrorString(err));
}

cl::E8Act act_of(torch::ScalarType t) {
    switch (t) {
    case torch::kFloat32: return cl::E8Act::f32;
    case torch::kFloat16: return cl::E8Act::f16;
    case torch::kBFloat16: return cl::E8Act::bf16;
    default: throw Error("E8 shell linear (CUDA)", std::string("unsupported activation dtype ") + c10::toString(t));
    }
}

cl::E8Blocks blocks_of(int64_t d) {
    cl::E8Blocks b;
    for (int64_t s : block_decompose(d)) {
        if (b.count == 24) throw Error("E8 shell linear (CUDA)", "dimension " + std::to_string(d) + " has too many blocks");
        b.size[b.count++] = static_cast<int>(s);
    }
    return b;
}

int64_t env_int(const char* name, int64_t fallback) {
    const char* v = std::getenv(name);
    if (!v || !*v) return fallback;
    char* end = nullptr;
    const long long x = std::strtoll(v, &end, 10);
    return end && *end == 0 && x >= 0 ? x : fallback;
}

std::atomic<int> g_placement{[] {
    const char* v = std::getenv("GLQ_E8_TABLE");
    if (v && std::string(v) == "smem") return static_cast<int>(E8TablePlacement::Shared);
    if (v && std::string(v) == "global") return static_cast<int>(E8TablePlacement::Global);
    return static_cast<int>(E8TablePlacement::Auto);
}()};

// Per code, a table in shared memory beats gathers from L1/L2 once an SM has
// enough codes to repay filling it (148 KB per CTA).
bool use_smem_table(int64_t codes, int num_sms) {
    const auto p = static_cast<E8TablePlacement>(g_placement.load());
    if (p != E8TablePlacement::Auto) return p == E8TablePlacement::Shared;
    static const int64_t per_sm = env_int("GLQ_E8_SMEM_MIN_CODES_PER_SM", 8192);
    return codes >= per_sm * num_sms;
}

std::atomic<int> g_fused{-1};  // -1: GLQ_E8_FUSED (default on)

bool fused_forced() { return g_fused.load() == 1; }

bool fused_enabled() {
    const int forced = g_fused.load();
    if (forced >= 0) return forced != 0;
    static const bool on = [] {
        const char* v = std::getenv("GLQ_E8_FUSED");
        return !(v && std::string(v) == "0");
    }();
    return on;
}

// Where the single launch beats prep + matvec + finish, as measured on the
// H200 (docs/benchmarks.md, "One launch"): small layers, whose time is the
// three kernels' latency (<= 2048 codes per SM: 1.1-1.25x), and inputs of
// three or more FWHT blocks from 8192 on, whose blocks the fused op transforms
// in parallel where the prep kernel takes them one after the other (the 8B
// down projection, 14336 = 8192 + 4096 + 2048: 1.16-1.32x). Elsewhere its
// K-range-per-CTA matvec is slower (0.5-0.9x on 2048^2 .. 8192^2).
bool fused_pays(int64_t m, int64_t n, int64_t S, int num_sms) {
    if (fused_forced()) return true;
    if (m * (n / 8) * S <= int64_t{2048} * num_sms) return true;
    const std::vector<int64_t> blocks = block_decompose(n);
    return n >= 8192 && blocks.size() >= 3;
}

std::atomic<int> g_last_route{0};  // index into kRouteNames
constexpr const char* kRouteNames[] = {"none", "dense", "rows", "fused", "three"};

std::atomic<int> g_rows{-1};  // -1: GLQ_E8_ROWS (default on)

// Every CTA of the rows op transforms every token's whole input, so its
// cost grows with B where the three kernels' does not; at B = 1 the other
// paths took 0.79-1.18x its time, it was faster on 10 of 26 shapes and rates
// (docs/benchmarks.md, "rows op"), so it is off by default: on for batches
// up to GLQ_E8_ROWS_MAX_BATCH (0); forced on, up to kE8RowsMaxTokens.
bool rows_enabled(int64_t B) {
    const int forced = g_rows.load();
    if (forced >= 0) return forced != 0;
    static const int64_t max_b = [] {
        const char* v = std::getenv("GLQ_E8_ROWS");
        if (v && std::string(v) == "0") return int64_t{0};
        return env_int("GLQ_E8_ROWS_MAX_BATCH", 0);
    }();
    return B <= max_b;
}

// The rows op's table: in shared memory when each CTA has enough codes to
// repay filling it (148 KB), gathered through L1/L2 otherwise.
bool rows_smem_table(int64_t codes, int ctas) {
    const auto p = static_cast<E8TablePlacement>(g_placement.load());
    if (p != E8TablePlacement::Auto) return p == E8TablePlacement::Shared;
    static const int64_t per_cta = env_int("GLQ_E8_ROWS_SMEM_MIN_CODES", 16384);
    return codes >= per_cta * ctas;
}

torch::Tensor output_transform(const torch::Tensor& yt, const E8ShellDeviceWeights& w) {
    torch::Tensor y = block_hadamard(yt) * w.su.to(torch::kFloat32);
    if (w.bias.defined()) y = y + w.bias;
    return y;
}

} // namespace

void e8_shell_set_table_placement(E8TablePlacement p) { g_placement.store(static_cast<int>(p)); }

std::atomic<int64_t> g_dense_min_batch{-1};

int64_t e8_shell_dense_min_batch() {
    const int64_t forced = g_dense_min_batch.load();
    if (forced > 0) return forced;
    static const int64_t b = env_int("GLQ_E8_DENSE_MIN_BATCH", kE8DenseMinBatchDefault);
    return b;
}

void e8_shell_set_dense_min_batch(int64_t b) { g_dense_min_batch.store(b > 0 ? b : -1); }

void e8_shell_set_pdl(int mode) { cl::e8_shell_set_pdl(mode); }

void e8_shell_set_fused(int mode) { g_fused.store(mode < 0 ? -1 : (mode ? 1 : 0)); }

const char* e8_shell_last_route() { return kRouteNames[g_last_route.load()]; }

void e8_shell_set_rows(int mode) { g_rows.store(mode < 0 ? -1 : (mode ? 1 : 0)); }

bool current_stream_capturing() {
    cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
    check(cudaStreamIsCapturing(c10::cuda::getCurrentCUDAStream().stream(), &status), "capture status");
    return status != cudaStreamCaptureStatusNone;
}

int64_t e8_shell_workspace_elems(int64_t m, int64_t S, int64_t B) {
    // At least 16: the rows op keeps its tickets (<= 24 uint32) in the first elements.
    return std::max<int64_t>(16, m * S * std::min<int64_t>(B, cl::kE8MatvecTokens));
}

torch::Tensor e8_shell_decode(const E8ShellDeviceWeights& w, torch::ScalarType dtype) {
    const c10::cuda::CUDAGuard guard(w.codes.device());
    const cudaStream_t stream = c10::cuda::getCurrentCUDAStream().stream();
    torch::Tensor out = torch::empty({w.m, w.n}, w.codes.options().dtype(dtype));
    const int RT = static_cast<int>((w.m + 31) / 32), KB = static_cast<int>((w.n + 63) / 64);
    check(cl::e8_shell_decode(reinterpret_cast<const unsigned long long*>(w.codes.data_ptr()),
                              reinterpret_cast<const uint32_t*>(w.table.data_ptr<int32_t>()), w.stage_w.data(),
                              static_cast<int>(w.S), static_cast<int>(w.m), static_cast<int>(w.n), RT, KB,
                              out.data_ptr(), act_of(dtype), stream),
          "decode");
    return out;
}

void e8_shell_forward(const E8ShellDeviceWeights& w, const torch::Tensor& x, torch::Tensor& out, torch::Tensor& ws) {
    const c10::cuda::CUDAGuard guard(x.device());
    const cudaStream_t stream = c10::cuda::getCurrentCUDAStream().stream();
    const int64_t B = x.size(0), n = w.n, m = w.m;
    if (x.dim() != 2 || x.size(1) != n || !x.is_contiguous() || !x.is_cuda())
        throw Error("E8 shell linear (CUDA)", "x must be a contiguous CUDA [B, " + std::to_string(n) + "] tensor");
    if (out.sizes() != torch::IntArrayRef{B, m} || out.scalar_type() != x.scalar_type() || !out.is_contiguous())
        throw Error("E8 shell linear (CUDA)", "out must be a contiguous [B, " + std::to_string(m) + "] tensor of x's dtype");
    if (B == 0) return;
    const cl::E8Act act = act_of(x.scalar_type());

    if (B >= e8_shell_dense_min_batch()) {
        // Decode once to the activation dtype and let cuBLAS multiply.
        const torch::Tensor wt = e8_shell_decode(w, x.scalar_type());
        const torch::Tensor xt = block_hadamard(x.to(torch::kFloat32) * w.sv.to(torch::kFloat32)).to(x.scalar_type());
        out.copy_(output_transform(torch::matmul(xt, wt.t()).to(torch::kFloat32), w));
        g_last_route.store(1);
        return;
    }
    const int64_t need = e8_shell_workspace_elems(m, w.S, B);
    if (ws.scalar_type() != torch::kInt64 || ws.numel() < need || ws.device() != x.device())
        throw Error("E8 shell linear (CUDA)", "workspace holds " + std::to_string(ws.numel()) + " int64, needs " +
                                                  std::to_string(need));
    const int num_sms_f = at::cuda::getCurrentDeviceProperties()->multiProcessorCount;
    const int max_smem = static_cast<int>(at::cuda::getCurrentDeviceProperties()->sharedMemPerBlockOptin);
    // The layer, tokens and output, as both single-launch ops take them.
    cl::E8OpArgs op;
    op.x = x.data_ptr();
    op.act = act;
    op.sv = reinterpret_cast<const __half*>(w.sv.data_ptr());
    op.su = reinterpret_cast<const __half*>(w.su.data_ptr());
    op.bias = w.bias.defined() ? w.bias.data_ptr<float>() : nullptr;
    op.out = out.data_ptr();
    op.codes = reinterpret_cast<const uint4*>(w.codes.data_ptr());
    op.table = reinterpret_cast<const uint32_t*>(w.table.data_ptr<int32_t>());
    for (int64_t s = 0; s < w.S; ++s) op.stage_w[s] = w.stage_w[s];
    op.B = static_cast<int>(B);
    op.n = static_cast<int>(n);
    op.m = static_cast<int>(m);
    op.S = static_cast<int>(w.S);
    op.RT = static_cast<int>((m + 31) / 32);
    op.KB = static_cast<int>((n + 63) / 64);
    op.bin = blocks_of(n);
    op.bout = blocks_of(m);
    if (B <= cl::kE8RowsMaxTokens && rows_enabled(B)) {
        cl::E8RowsArgs ra;
        static_cast<cl::E8OpArgs&>(ra) = op;
        ra.tickets = reinterpret_cast<unsigned*>(ws.data_ptr<int64_t>());
        const int tiles = (ra.RT + num_sms_f - 1) / num_sms_f, ctas = (ra.RT + tiles - 1) / tiles;  // as e8_rows_plan
        ra.smem_table = rows_smem_table(m * (n / 8) * w.S, ctas);
        bool planned = cl::e8_rows_plan(ra, num_sms_f, max_smem);
        if (!planned && ra.smem_table) {  // the input did not fit beside the table: gather it instead
            ra.smem_table = false;
            planned = cl::e8_rows_plan(ra, num_sms_f, max_smem);
        }
        if (planned) {
            const torch::Tensor yt = torch::empty({B, m}, x.options().dtype(torch::kFloat32));
            ra.yt = yt.data_ptr<float>();
            check(cl::e8_shell_rows(ra, stream), "rows");
            g_last_route.store(2);
            return;
        }
    }
    if (fused_enabled() && B <= cl::kE8MatvecTokens && fused_pays(m, n, w.S, num_sms_f)) {
        cl::E8FusedArgs fa;
        static_cast<cl::E8OpArgs&>(fa) = op;
        fa.ws = reinterpret_cast<unsigned long long*>(ws.data_ptr<int64_t>());
        fa.smem_table = use_smem_table(m * (n / 8) * w.S, num_sms_f);
        if (cl::e8_fused_plan(fa, num_sms_f, max_smem)) {
            const torch::Tensor xt = torch::empty({B, n}, x.options().dtype(torch::kFloat32));
            const torch::Tensor amax = torch::empty({B * fa.bin.count}, x.options().dtype(torch::kFloat32));
            const torch::Tensor qpart = torch::empty({int64_t{fa.nsplit} * B}, x.options().dtype(torch::kInt64));
            fa.xt = xt.data_ptr<float>();
            fa.amax = amax.data_ptr<float>();
            fa.qpart = reinterpret_cast<long long*>(qpart.data_ptr<int64_t>());
            check(cl::e8_shell_fused(fa, stream), "fused");
            g_last_route.store(3);
            return;
        }
    }

    const int RT = static_cast<int>((m + 31) / 32), KB = static_cast<int>((n + 63) / 64), n8p = 8 * KB;
    const int num_sms = at::cuda::getCurrentDeviceProperties()->multiProcessorCount;
    torch::Tensor limbs = torch::empty({B, int64_t{n8p} * 4}, x.options().dtype(torch::kInt32));
    torch::Tensor exps = torch::empty({B}, x.options().dtype(torch::kInt32));
    torch::Tensor qsum = torch::empty({B}, x.options().dtype(torch::kInt64));
    auto* limbs_p = reinterpret_cast<uint32_t*>(limbs.data_ptr<int32_t>());
    if (n <= cl::kE8PrepMaxDim) {
        const torch::Tensor svh = w.sv;
        check(cl::e8_shell_prep(x.data_ptr(), act, reinterpret_cast<const __half*>(svh.data_ptr()), static_cast<int>(B),
                                static_cast<int>(n), true, blocks_of(n), n8p, limbs_p, exps.data_ptr<int32_t>(),
                                reinterpret_cast<long long*>(qsum.data_ptr<int64_t>()), stream),
              "prep");
    } else {
        const torch::Tensor xt = block_hadamard(x.to(torch::kFloat32) * w.sv.to(torch::kFloat32)).contiguous();
        check(cl::e8_shell_prep(xt.data_ptr(), cl::E8Act::f32, nullptr, static_cast<int>(B), static_cast<int>(n), false,
                                cl::E8Blocks{}, n8p, limbs_p, exps.data_ptr<int32_t>(),
                                reinterpret_cast<long long*>(qsum.data_ptr<int64_t>()), stream),
              "prep");
    }

    auto* ws_p = reinterpret_cast<unsigned long long*>(ws.data_ptr<int64_t>());
    cl::E8MatvecArgs a;
    a.codes = reinterpret_cast<const unsigned long long*>(w.codes.data_ptr());
    a.table = reinterpret_cast<const uint32_t*>(w.table.data_ptr<int32_t>());
    a.limbs = limbs_p;
    a.ws = ws_p;
    a.m = static_cast<int>(m);
    a.RT = RT;
    a.KB = KB;
    a.S = static_cast<int>(w.S);
    a.n8p = n8p;
    a.smem_table = use_smem_table(m * (n / 8) * w.S, num_sms);
    cl::e8_matvec_plan(a, num_sms);

    cl::E8FinishArgs f;
    f.ws = ws_p;
    f.exps = exps.data_ptr<int32_t>();
    f.qsum = reinterpret_cast<const long long*>(qsum.data_ptr<int64_t>());
    for (int64_t s = 0; s < w.S; ++s) f.stage_w[s] = w.stage_w[s];
    f.S = static_cast<int>(w.S);
    f.m = static_cast<int>(m);
    f.blocks = blocks_of(m);
    f.transform = true;
    for (int k = 0; k < f.blocks.count; ++k) f.transform = f.transform && f.blocks.size[k] <= cl::kE8FinishMaxBlock;
    f.su = reinterpret_cast<const __half*>(w.su.data_ptr());
    f.bias = w.bias.defined() ? w.bias.data_ptr<float>() : nullptr;
    f.act = act;
    torch::Tensor yt;
    if (f.transform) {
        f.out = out.data_ptr();
    } else {
        yt = torch::empty({B, m}, x.options().dtype(torch::kFloat32));
        f.out = yt.data_ptr();
    }
    // Per chunk of tokens: the matvec's sums, then their finish (which cleans
    // the workspace for the next chunk).
    for (int64_t t0 = 0; t0 < B; t0 += cl::kE8MatvecTokens) {
        a.tok0 = static_cast<int>(t0);
        a.ntok = static_cast<int>(std::min<int64_t>(cl::kE8MatvecTokens, B - t0));
        check(cl::e8_shell_matvec(a, num_sms, stream), "matvec");
        f.tok0 = a.tok0;
        f.B = a.ntok;
        check(cl::e8_shell_finish(f, stream), "finish");
    }
    if (!f.transform) out.copy_(output_transform(yt, w));
    g_last_route.store(4);
}

void e8_shell_matvec_only(const E8ShellDeviceWeights& w, const torch::Tensor& limbs, int64_t B, torch::Tensor& ws) {
    const c10::cuda::CUDAGuard guard(w.codes.device());
    const cudaStream_t stream = c10::cuda::getCurrentCUDAStream().stream();
    const int RT = static_cast<int>((w.m + 31) / 32), KB = static_cast<int>((w.n + 63) / 64);
    if (B < 1 || B > cl::kE8MatvecTokens || limbs.numel() < B * e8_shell_limb_elems(w.n) ||
        limbs.scalar_type() != torch::kInt32 || ws.numel() < e8_shell_workspace_elems(w.m, w.S, B))
        throw Error("E8 shell linear (CUDA)", "matvec_only: bad limbs, workspace or batch");
    const int num_sms = at::cuda::getCurrentDeviceProperties()->multiProcessorCount;
    cl::E8MatvecArgs a;
    a.codes = reinterpret_cast<const unsigned long long*>(w.codes.data_ptr());
    a.table = reinterpret_cast<const uint32_t*>(w.table.data_ptr<int32_t>());
    a.limbs = reinterpret_cast<const uint32_t*>(limbs.data_ptr<int32_t>());
    a.ws = reinterpret_cast<unsigned long long*>(ws.data_ptr<int64_t>());
    a.m = static_cast<int>(w.m);
    a.RT = RT;
    a.KB = KB;
    a.S = static_cast<int>(w.S);
    a.n8p = 8 * KB;
    a.smem_table = use_smem_table(w.m * (w.n / 8) * w.S, num_sms);
    cl::e8_matvec_plan(a, num_sms);
    a.tok0 = 0;
    a.ntok = static_cast<int>(B);
    check(cl::e8_shell_matvec(a, num_sms, stream), "matvec");
}

int64_t e8_shell_limb_elems(int64_t n) { return 4 * 8 * ((n + 63) / 64); }

} // namespace glq::kernels::cuda
