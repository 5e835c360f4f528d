#pragma once
// Raw-pointer launchers of the compressed E8 shell linear (no LibTorch):
// y = x·Ŵᵀ computed against the 16-bit codes, never a dense weight.
//
//   prep     x [B, n] -> x~ = BD_n(SV ⊙ x) in shared memory, then 16-bit fixed
//            point per token (q = rint(x~·2^(15-E)), 2^E > max|x~|) split into
//            two int8 limbs (hi = q >> 8 signed, lo = q & 0xFF unsigned),
//            laid out per 8-column group for dp4a; Q = Σq per token.
//   matvec   integer tensor-core products (mma.sync m16n8k32, u8 x s8/u8) of
//            the code nibbles (2v + 6, from the signed-order table in shared
//            memory or L2), decoded straight into A fragments, with the limbs
//            as B fragments: exact int32 per warp tile, flushed as int64 into a
//            self-cleaning workspace [B][S][m] by integer atomics: split-K
//            without float atomics, so the result does not depend on the order
//            CTAs finish in. Up to 32 tokens per launch.
//   finish   per token and output block: ỹ = Wscale·2^(E-15)·½·Σ_s w_s(P_s - 6Q),
//            BD_m, ⊙ SU, + bias, cast; zeroes the workspace it read.
//   decode   W~ (RHT domain) to a dense [m, n] tile for large batches (cuBLAS).
//
// The three launch with programmatic stream serialization on sm_90: each may
// start while the previous one ends (the matvec fills its table then) and
// waits for its inputs (griddepcontrol.wait).
//
// Code layout (core/format/shell_gpu_layout.h): uint16 inference codes
// [RT = ceil(m/32)][S][KB = ceil(n/64)][32 lanes][8], one 16-byte load per
// lane, stage and block of 64 columns.

#include <cstdint>

#include <cuda_fp16.h>
#include <cuda_runtime.h>

namespace glq::kernels::cuda_launch {

constexpr int kE8MaxStages = 4;
constexpr int kE8MatvecTokens = 32;    // tokens per matvec launch
constexpr int kE8PrepMaxDim = 16384;   // prep transforms in shared memory up to this n
constexpr int kE8FinishMaxBlock = 8192;  // finish transforms output blocks up to this size
constexpr uint32_t kE8SignedPairsDev = 28440;
constexpr uint32_t kE8SignedRowsDev = 37096;
constexpr uint32_t kE8NegateMaskDev = 0xCCCCCCCCu;
constexpr int kE8TokenInvalid = -0x40000000;  // exps[] of a token with a non-finite input

// Consecutive FWHT blocks of a dimension (its binary expansion, largest first).
struct E8Blocks {
    int count = 0;
    int size[24] = {};
};

// x: [B, n] of T (float, __half, __nv_bfloat16 via the template in the .cu).
// transform: apply SV and BD_n (n <= kE8PrepMaxDim); otherwise x is x~ already
// (float). limbs: [B][n8p][4] uint32 (n8p >= n/8, zero padded); exps [B]; qsum [B].
enum class E8Act { f32, f16, bf16 };
cudaError_t e8_shell_prep(const void* x, E8Act act, const __half* sv, int B, int n, bool transform,
                          const E8Blocks& blocks, int n8p, uint32_t* limbs, int* exps, long long* qsum,
                          cudaStream_t stream);

struct E8MatvecArgs {
    const unsigned long long* codes = nullptr;  // relaid layout (16-byte aligned)
    const uint32_t* table = nullptr;            // signed-order rows [kE8SignedRowsDev]
    const uint32_t* limbs = nullptr;            // [B][n8p][4]
    unsigned long long* ws = nullptr;           // [ntok][S][m], int64 two's complement, zero on entry
    int m = 0, RT = 0, KB = 0, S = 1, n8p = 0;  // n8p = 8·KB
    int tok0 = 0, ntok = 0;                     // tokens [tok0, tok0 + ntok), ntok <= kE8MatvecTokens
    int split_len = 1, nsplit = 1;              // K split, in blocks of 64 columns
    bool smem_table = false;
};
// Chooses the split and grid for the shape (num_sms SMs).
void e8_matvec_plan(E8MatvecArgs& a, int num_sms);
cudaError_t e8_shell_matvec(const E8MatvecArgs& a, int num_sms, cudaStream_t stream);
// Programmatic dependent launch: 1 on, 0 off, -1 the default (GLQ_E8_PDL,
// on where the device has it). For benchmarks.
void e8_shell_set_pdl(int mode);

struct E8FinishArgs {
    unsigned long long* ws = nullptr;  // [B][S][m] of tokens tok0.. ; zeroed on return
    const int* exps = nullptr;
    const long long* qsum = nullptr;
    float stage_w[kE8MaxStages] = {};  // Wscale · stage weight
    int S = 1, B = 1, m = 0;
    int tok0 = 0;                      // first token (exps, qsum, out); ws starts at it
    bool transform = true;             // BD_m (all blocks <= kE8FinishMaxBlock), SU, bias, cast to out
    E8Blocks blocks;
    const __half* su = nullptr;
    const float* bias = nullptr;       // [m] or null
    void* out = nullptr;               // transform: [B, m] of act; else float ỹ [B, m]
    E8Act act = E8Act::f32;
};
cudaError_t e8_shell_finish(const E8FinishArgs& a, cudaStream_t stream);

// What both single-launch ops take: the layer, the tokens, the output.
struct E8OpArgs {
    const void* x = nullptr;          // [B, n] of act
    E8Act act = E8Act::f32;
    const __half *sv = nullptr, *su = nullptr;
    const float* bias = nullptr;      // [m] or null
    void* out = nullptr;              // [B, m] of act
    const uint4* codes = nullptr;     // relaid layout
    const uint32_t* table = nullptr;  // signed-order rows
    float stage_w[kE8MaxStages] = {};
    int B = 1, n = 0, m = 0, S = 1, RT = 0, KB = 0;
    E8Blocks bin, bout;
    bool smem_table = false;
};

// The whole op in one cooperative launch (e8_shell_fused.cu) for B <= 32
// tokens when every FWHT block is <= kE8FusedMaxBlock: same bits as prep +
// matvec + finish, two grid barriers instead of two kernel boundaries.
constexpr int kE8FusedMaxBlock = 16384;
struct E8FusedArgs : E8OpArgs {
    float* xt = nullptr;              // scratch [B, n]
    float* amax = nullptr;            // scratch [B, bin.count]
    long long* qpart = nullptr;       // scratch [nsplit, B]
    unsigned long long* ws = nullptr; // [B][S][m], zero on entry and on return
    // Set by e8_fused_plan:
    int nsplit = 1, klen = 1, ngroups = 1, wlen = 1, ntile = 1, grid = 1, max_smem = 0;
    size_t smem = 0;
};
// Fills the plan (splits, grid, shared memory); false when the shape, the
// batch or the device does not allow the fused op (then use the three kernels).
bool e8_fused_plan(E8FusedArgs& a, int num_sms, int max_smem);
cudaError_t e8_shell_fused(const E8FusedArgs& a, cudaStream_t stream);

// The whole op in one ordinary launch for B <= kE8RowsMaxTokens tokens
// (e8_shell_rows.cu): each CTA owns whole row tiles of the output and so needs
// no sums from other CTAs. It transforms and quantises the entire input itself
// (every CTA the same, so all agree on the fixed-point exponent), multiplies
// its rows over all of K, and writes x~·Wᵀ rows to yt; the CTA that completes
// an output FWHT block (a ticket counter per block) transforms that block.
// Same bits as prep + matvec + finish. No grid barrier, no workspace sums.
constexpr int kE8RowsMaxTokens = 8;
struct E8RowsArgs : E8OpArgs {
    float* yt = nullptr;              // scratch [B, m]
    unsigned* tickets = nullptr;      // [bout.count], zero on entry and on return
    // Set by e8_rows_plan:
    int tiles = 1, nsub = 1, wlen = 1, grid = 1, max_smem = 0;
    size_t smem = 0;
};
// Fills the plan; false when the batch, the blocks or the shared memory do not
// allow the rows op (then use the fused op or the three kernels).
bool e8_rows_plan(E8RowsArgs& a, int num_sms, int max_smem);
cudaError_t e8_shell_rows(const E8RowsArgs& a, cudaStream_t stream);

// W~ [m, n] (RHT domain) of `act` type from the relaid codes.
cudaError_t e8_shell_decode(const unsigned long long* codes, const uint32_t* table, const float* stage_w, int S,
                            int m, int n, int RT, int KB, void* w, E8Act act, cudaStream_t stream);

} // namespace glq::kernels::cuda_launch
