// Block LDL and the LDLQ sweep with E8 shell residual stages (see ldlq.h).

#include "core/quant/ldlq.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <cmath>
#include <limits>
#include <map>
#include <mutex>
#include <string>

#include "core/common/error.h"
#include "core/codebook/e8_shell/e8_codebook.h"
#include "core/codebook/e8_shell/shell_decode.h"

namespace glq::quant {
using namespace codebook;
namespace {

// The reference's grid for residual scales (codebook.compute_paired_resid_scale).
constexpr double kResidScaleGrid[] = {0.5, 1.0, 2.0, 3.0, 5.0, 7.0, 10.0, 15.0, 20.0, 30.0};
constexpr int64_t kResidScaleSamples = 8000;

std::string shape_str(const torch::Tensor& t) {
    std::string s = "[";
    for (int64_t d = 0; d < t.dim(); ++d) s += (d ? ", " : "") + std::to_string(t.size(d));
    return s + "]";
}

torch::Tensor with_damping(const torch::Tensor& h64, double relative) {
    const double mean_diag = h64.diagonal().mean().item<double>();
    return h64 + relative * mean_diag * torch::eye(h64.size(0), h64.options());
}

// The b×b diagonal blocks of a square matrix: [n/b, b, b].
torch::Tensor diagonal_blocks(const torch::Tensor& m, int64_t block) {
    const int64_t nb = m.size(0) / block;
    return torch::diagonal(m.reshape({nb, block, nb, block}), 0, 0, 2).permute({2, 0, 1});
}

// Stage-s codewords for x [N, 8] and their indices.
std::pair<torch::Tensor, torch::Tensor> nearest(const torch::Tensor& x, int64_t codebook_size,
                                                const torch::Tensor& table) {
    // The sweep's inputs are finite (W and H are checked once per layer):
    // skip the per-call check, a device sync per block on the GPU.
    torch::Tensor idx = e8_nearest(x.contiguous(), codebook_size, /*check_finite=*/false);
    return {table.index_select(0, idx), idx};
}

} // namespace

std::optional<BlockLdl> try_block_ldl(const torch::Tensor& h, int64_t block) {
    if (h.dim() != 2 || h.size(0) != h.size(1))
        throw Error("block LDL", "the Hessian must be square, got " + shape_str(h));
    const int64_t n = h.size(0);
    if (block <= 0 || n % block != 0)
        throw Error("block LDL", "size " + std::to_string(n) + " is not a multiple of the block size " +
                                     std::to_string(block));
    const torch::Tensor h64 = h.to(torch::kFloat64);
    auto [chol, info] = torch::linalg_cholesky_ex(h64);
    if (info.item<int64_t>() != 0 || !torch::isfinite(chol).all().item<bool>()) return std::nullopt;
    const int64_t nb = n / block;
    // The b×b diagonal blocks of the Cholesky factor: DL[i] = chol[ib:(i+1)b, ib:(i+1)b].
    torch::Tensor dl = diagonal_blocks(chol, block);
    torch::Tensor d = torch::bmm(dl, dl.transpose(1, 2));
    torch::Tensor dl_inv = torch::linalg_inv(dl);
    // Right-multiplying block column i of chol by DL[i]^-1 makes its diagonal block identity.
    torch::Tensor l = torch::einsum("nib,ibj->nij", {chol.reshape({n, nb, block}), dl_inv}).reshape({n, n});
    return BlockLdl{l, d};
}

BlockLdl block_ldl(const torch::Tensor& h, int64_t block) {
    auto r = try_block_ldl(h, block);
    if (!r) throw Error("block LDL", "the Hessian is not positive definite");
    return *r;
}

double paired_resid_scale_full_to_small(uint64_t seed) {
    static std::mutex mutex;
    static std::map<uint64_t, double> cache;
    std::lock_guard<std::mutex> lock(mutex);
    if (auto it = cache.find(seed); it != cache.end()) return it->second;

    const torch::Tensor& table = e8_codebook();
    at::Generator gen = at::detail::createCPUGenerator(seed);
    const torch::Tensor x = at::randn({kResidScaleSamples, 8}, gen, torch::TensorOptions().dtype(torch::kFloat32));
    const torch::Tensor xs = x / kE8OptScale;
    const torch::Tensor dec1 = nearest(xs, kE8CodebookSize, table).first;
    const torch::Tensor residual = xs - dec1;
    double best_err = std::numeric_limits<double>::infinity();
    double best_rs = 1.0;
    for (double rs : kResidScaleGrid) {
        const torch::Tensor dec2 = nearest(residual * rs, kE8SmallCodebookSize, table).first;
        const torch::Tensor total = dec1 + dec2 / rs;
        const double err = (xs - total).pow(2).sum(-1).mean().item<double>() * kE8OptScale * kE8OptScale;
        if (err < best_err) {  // strict: the first (smallest) scale wins a tie, as in the reference
            best_err = err;
            best_rs = rs;
        }
    }
    cache.emplace(seed, best_rs);
    return best_rs;
}

ShellRecipe shell_recipe(int bpw) {
    ShellRecipe r;
    r.bpw = bpw;
    r.codebook_sizes = codebook::shell_stage_sizes(bpw);
    for (size_t s = 1; s < r.codebook_sizes.size(); ++s)
        r.resid_scales.push_back(r.codebook_sizes[s] == kE8SmallCodebookSize ? paired_resid_scale_full_to_small()
                                                                             : kE8ResidScale);
    // Cumulative weights in double, then rounded once, as the reference stores them.
    double cum = 1.0;
    r.stage_weights.push_back(1.0f);
    for (double rs : r.resid_scales) {
        cum /= rs;
        r.stage_weights.push_back(static_cast<float>(cum));
    }
    return r;
}

double proxy_loss(const torch::Tensor& w, const torch::Tensor& w_hat, const torch::Tensor& h) {
    const torch::Tensor d = (w.to(torch::kFloat64) - w_hat.to(torch::kFloat64));
    const torch::Tensor h64 = h.to(d.device(), torch::kFloat64);
    return (d.mm(h64) * d).sum().item<double>() / static_cast<double>(w.size(0));
}

LdlqResult ldlq_quantize(const torch::Tensor& w_in, const torch::Tensor& h_in, int bpw, const LdlqOptions& options) {
    if (w_in.dim() != 2) throw Error("LDLQ", "the weight must be a matrix, got " + shape_str(w_in));
    const int64_t m = w_in.size(0), n = w_in.size(1);
    if (n % kLdlqBlock != 0)
        throw Error("LDLQ", "the weight has " + std::to_string(n) +
                                " columns; E8 quantization needs a multiple of 8 (pad the columns first)");
    if (h_in.dim() != 2 || h_in.size(0) != n || h_in.size(1) != n)
        throw Error("LDLQ", "the Hessian must be [" + std::to_string(n) + ", " + std::to_string(n) + "], got " +
                                shape_str(h_in));
    if (!torch::isfinite(w_in).all().item<bool>()) throw Error("LDLQ", "the weight holds NaN or Inf");
    if (!torch::isfinite(h_in).all().item<bool>()) throw Error("LDLQ", "the Hessian holds NaN or Inf");

    LdlqResult out;
    out.recipe = shell_recipe(bpw);
    const ShellRecipe& recipe = out.recipe;
    const torch::Device device = w_in.device();
    const torch::Tensor w = w_in.to(torch::kFloat32).contiguous();
    const torch::Tensor h64 = h_in.to(device, torch::kFloat64);

    // The reference's 3-tier fallback: its 1% damping, then +10% of the mean
    // diagonal (at least 1e-6) on top, then the identity.
    // h_factored is the matrix that factorised (the tuning passes use it too).
    torch::Tensor h_factored = with_damping(h64, options.damping);
    std::optional<BlockLdl> ldl = try_block_ldl(h_factored);
    if (!ldl) {
        out.damping_tier = DampingTier::Heavy;
        const double heavy = std::max(0.1 * h64.diagonal().mean().item<double>(), 1e-6);
        h_factored = with_damping(h64 + heavy * torch::eye(n, h64.options()), options.damping);
        ldl = try_block_ldl(h_factored);
    }
    if (!ldl) {
        out.damping_tier = DampingTier::Identity;
        h_factored = with_damping(torch::eye(n, h64.options()), options.damping);
        ldl = block_ldl(h_factored);
    }
    const torch::Tensor l = ldl->L.to(torch::kFloat32);
    if (options.tune_iters < 0) throw Error("LDLQ", "tune_iters must be >= 0, got " + std::to_string(options.tune_iters));

    const double rms = w.pow(2).mean().sqrt().item<double>();
    out.wscale = rms > 1e-10 ? static_cast<float>(static_cast<float>(rms) * kE8OptScale) : 1.0f;
    const torch::Tensor wr = w / out.wscale;

    const int64_t num_blocks = n / kLdlqBlock;
    const int64_t stages = recipe.num_stages();
    const torch::Tensor table = e8_codebook_on(device, torch::kFloat32);
    for (int64_t s = 0; s < stages; ++s)
        out.indices.push_back(torch::zeros({m, num_blocks}, torch::TensorOptions().dtype(torch::kInt64).device(device)));

    // One block's target through every residual stage: the reconstruction
    // (in Wr's units) and the per-stage indices [m] of each stage.
    auto quantize_block = [&](const torch::Tensor& target) {
        std::vector<torch::Tensor> idx_per_stage;
        torch::Tensor recon;
        torch::Tensor stage_input = target;
        for (int64_t s = 0; s < stages; ++s) {
            auto [dec, idx] = nearest(stage_input, recipe.codebook_sizes[s], table);
            idx_per_stage.push_back(idx);
            if (s == 0)
                recon = dec.clone();
            else
                recon.add_(dec, recipe.stage_weights[s]);
            if (s + 1 < stages) stage_input = (stage_input - dec) * recipe.resid_scales[s];
        }
        return std::make_pair(recon, idx_per_stage);
    };

    // resid = Wr - Ŵr over the blocks already quantised (to the right of k).
    torch::Tensor resid = torch::zeros_like(wr);
    const int64_t total_steps = num_blocks * (1 + options.tune_iters);
    const int64_t report_every = std::max<int64_t>(1, total_steps / 100);
    auto report = [&](int64_t done) {
        if (options.progress && (done % report_every == 0 || done == total_steps))
            options.progress(Progress{"quantize", "LDLQ", done, total_steps, "blocks"});
    };
    for (int64_t k = num_blocks - 1; k >= 0; --k) {
        if (options.cancel) options.cancel->check();
        const int64_t kb = k * kLdlqBlock, ke = kb + kLdlqBlock;
        torch::Tensor target = wr.slice(1, kb, ke).clone();
        if (options.error_feedback && ke < n) target.add_(resid.slice(1, ke).mm(l.slice(0, ke).slice(1, kb, ke)));

        auto [recon, idx] = quantize_block(target);
        for (int64_t s = 0; s < stages; ++s) out.indices[s].select(1, k).copy_(idx[s]);
        resid.slice(1, kb, ke).copy_(wr.slice(1, kb, ke) - recon);
        report(num_blocks - k);
    }

    if (options.tune_iters > 0) {
        // Block coordinate descent on tr(R·H·Rᵀ), R = Wr - Ŵr, with the
        // Hessian the sweep factorised (damped the same way). E = R·H is kept
        // up to date as blocks change: Ŵ_k += δ  =>  E -= δ·H[k, :].
        const torch::Tensor hf = h_factored.to(torch::kFloat32);
        // H_kk⁻¹ for every diagonal block, in float64 then float32: [nb, 8, 8].
        const torch::Tensor h_blocks = diagonal_blocks(h_factored, kLdlqBlock);
        const torch::Tensor h_blocks_f = h_blocks.to(torch::kFloat32).contiguous();
        const torch::Tensor h_blocks_inv = torch::linalg_inv(h_blocks).to(torch::kFloat32).contiguous();
        torch::Tensor e = resid.mm(hf);
        int64_t done = num_blocks;
        for (int it = 0; it < options.tune_iters; ++it) {
            for (int64_t k = num_blocks - 1; k >= 0; --k) {
                if (options.cancel) options.cancel->check();
                const int64_t kb = k * kLdlqBlock, ke = kb + kLdlqBlock;
                const torch::Tensor what_k = wr.slice(1, kb, ke) - resid.slice(1, kb, ke);  // Ŵr_k
                const torch::Tensor e_k = e.slice(1, kb, ke);
                const torch::Tensor target = what_k + e_k.mm(h_blocks_inv[k]);
                auto [recon, idx] = quantize_block(target);
                // The exact change of each row's proxy: -2·δ·E_kᵀ + δ·H_kk·δᵀ.
                torch::Tensor delta = recon - what_k;
                const torch::Tensor change =
                    (delta.mm(h_blocks_f[k]) * delta).sum(1) - 2.0 * (delta * e_k).sum(1);
                const torch::Tensor keep = change < 0;  // [m]
                delta = delta * keep.unsqueeze(1).to(delta.scalar_type());
                for (int64_t s = 0; s < stages; ++s) {
                    torch::Tensor col = out.indices[s].select(1, k);
                    col.copy_(torch::where(keep, idx[s], col));
                }
                resid.slice(1, kb, ke).sub_(delta);
                e.sub_(delta.mm(hf.slice(0, kb, ke)));
                report(++done);
            }
        }
    }

    out.w_hat = decode_shell(out.indices, recipe.stage_weights, out.wscale);
    const torch::Tensor h_metric = h64;
    out.proxy_loss = proxy_loss(w, out.w_hat, h_metric);
    const double signal = proxy_loss(w, torch::zeros_like(w), h_metric);
    out.relative_proxy_loss = signal > 0 ? out.proxy_loss / signal : 0.0;
    out.mse = (w - out.w_hat).pow(2).mean().item<double>();
    return out;
}

} // namespace glq::quant
