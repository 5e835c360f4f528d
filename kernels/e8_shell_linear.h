#pragma once
// The compressed E8 shell linear's kernels, for tensors: the product of
// activations with a weight held only as 16-bit codebook indices, in the RHT
// domain. The transforms around it (SV, BD_n before; BD_m, SU, bias after)
// are the caller's on the CPU and fused here on CUDA.
//
//   ỹ[b, i] = Σ_s w_s · Σ_j  CB[code_s[i, j]] · x~[b, 8j .. 8j+7]
//
// with w_s = Wscale · stage weight. Codes decode from a packed table: nibble
// t of a row holds 2·v_t + 6 (v_t in {-3, -2.5, ..., 3}).
//
// CPU: reference-order codes [m, n/8] (int16 bit patterns), the 65,536-row
// packed table, rows in parallel (at::parallel_for). Up to 16 tokens: exact
// integer arithmetic, as on CUDA: x~ per token in 16-bit fixed point
// (2^E > max|x~|) as two signed int8 limbs, the table rows' nibbles as u8
// bytes, vpmaddubsw/vpmaddwd (AVX2) or vpdpbusd (AVX-VNNI, chosen at run
// time) into exact int32 sums, ỹ = 2^(E-16)·Σ_s w_s·(P_s - 6·Σq) in float.
// Why: the float loop spent ~8 instructions per code converting nibbles; the
// bound now is the one table load per code. The result differs from the float
// product only by x~'s fixed-point rounding (<= 2^(E-16) per element, about
// 2^-15 of max|x~|); a token with a non-finite x~ gives a NaN row. The scalar
// loop computes the same integers: every path gives the same bits. From 17
// tokens on: row tiles decode to float W~ and multiply with a GEMM.
// CUDA: the relaid inference-order codes (core/format/shell_gpu_layout.h) and
// the signed-order table; see cuda/e8_shell_linear.cuh for the method.

#include <cstdint>
#include <vector>

#include <torch/types.h>

namespace glq::kernels {

namespace cpu {
// ỹ float32 [B, m] for x~ float32 [B, n] (contiguous); codes: per stage int16
// [m, n/8] contiguous CPU tensors; table: 65,536 packed rows (reference order).
torch::Tensor e8_shell_matmul(const torch::Tensor& xt, const std::vector<torch::Tensor>& codes,
                              const std::vector<float>& stage_w, const uint32_t* table);
// W~ float32 [rows, n] of rows [r0, r0 + rows) (the GEMM route's tile).
torch::Tensor e8_shell_decode_rows(const std::vector<torch::Tensor>& codes, const std::vector<float>& stage_w,
                                   const uint32_t* table, int64_t r0, int64_t rows);
// True when the AVX2 path runs on this CPU (for logs and benchmarks).
bool e8_shell_has_avx2();
// True when the decode path's products use AVX-VNNI (vpdpbusd) on this CPU.
bool e8_shell_has_avx_vnni();
// Tests and benchmarks: run the scalar loop even where AVX2 is present.
void e8_shell_force_scalar(bool on);
// Tests and benchmarks: the AVX2 products even where AVX-VNNI is present.
void e8_shell_disable_vnni(bool on);
} // namespace cpu

#ifdef GLQ_WITH_CUDA
namespace cuda {
// What one compressed layer holds on the device.
struct E8ShellDeviceWeights {
    torch::Tensor codes;   // uint16 bit patterns as int16, relaid [RT][S][KB][32][8]
    torch::Tensor table;   // int32 [37096] signed-order rows
    torch::Tensor su, sv;  // float16 [m], [n]
    torch::Tensor bias;    // float32 [m] or undefined
    std::vector<float> stage_w;
    int64_t m = 0, n = 0, S = 1;
};

// Batch sizes below this run the compressed tensor-core matvec (32 tokens per
// launch); from it on, the op decodes W~ to the activation dtype and calls
// cuBLAS. The default is the crossover measured on an H200
// (docs/benchmarks.md); GLQ_E8_DENSE_MIN_BATCH overrides it, and so does the
// setter (benchmarks; <= 0 restores the default).
constexpr int64_t kE8DenseMinBatchDefault = 128;
int64_t e8_shell_dense_min_batch();
void e8_shell_set_dense_min_batch(int64_t b);

// Programmatic dependent launch of the op's kernels (sm_90): 1 on, 0 off, -1
// the default (on where the device has it; GLQ_E8_PDL=0 turns it off).
void e8_shell_set_pdl(int mode);

// The single-launch op for B <= 32 (where the shape and device allow it): 1
// everywhere it can run, 0 off (prep + matvec + finish), -1 the default: on
// for the shapes where it measured faster (small layers; inputs of three or
// more large FWHT blocks), GLQ_E8_FUSED=0 turns it off. Both give the same bits.
void e8_shell_set_fused(int mode);

// The rows op for B <= 8 (one ordinary launch, each CTA owning whole output
// rows; where its shared memory allows): 1 on wherever it can run, 0 off (then
// the fused op or the three kernels), -1 the default: batches up to
// GLQ_E8_ROWS_MAX_BATCH (0: off; it measured no faster overall). Same bits.
void e8_shell_set_rows(int mode);
// The path the last e8_shell_forward took: "dense", "rows", "fused" or
// "three" ("none" before the first call). For benchmarks and logs.
const char* e8_shell_last_route();

// out = x·Ŵᵀ (+ bias) for x [B, n] (float32, float16 or bfloat16, contiguous),
// out [B, m] of x's dtype, preallocated. ws: int64 CUDA tensor of at least
// e8_shell_workspace_elems(m, S, B) elements, all zero; it is zero again on
// return. Launches only (no host sync, no allocation outside LibTorch's
// caching allocator): capturable in a CUDA graph.
void e8_shell_forward(const E8ShellDeviceWeights& w, const torch::Tensor& x, torch::Tensor& out, torch::Tensor& ws);
int64_t e8_shell_workspace_elems(int64_t m, int64_t S, int64_t B);

// Benchmarks: the bare matvec of B <= 32 tokens on prepared limbs (int32, at
// least B · e8_shell_limb_elems(n)), adding into ws; no transforms, no finish.
void e8_shell_matvec_only(const E8ShellDeviceWeights& w, const torch::Tensor& limbs, int64_t B, torch::Tensor& ws);
int64_t e8_shell_limb_elems(int64_t n);

// Where the matvec reads the codebook from: chosen per shape (Auto: shared
// memory once an SM has enough codes to repay filling it, L1/L2 otherwise), or
// forced, for tests and benchmarks (GLQ_E8_TABLE=smem|global sets it too).
enum class E8TablePlacement { Auto, Shared, Global };
void e8_shell_set_table_placement(E8TablePlacement p);

// True while the current CUDA stream is being captured into a graph.
bool current_stream_capturing();

// W~ [m, n] (RHT domain) in `dtype`.
torch::Tensor e8_shell_decode(const E8ShellDeviceWeights& w, torch::ScalarType dtype);
} // namespace cuda
#endif

} // namespace glq::kernels
