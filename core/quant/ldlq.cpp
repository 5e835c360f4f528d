// Block LDL and the LDLQ sweep over a codebook's strips (see ldlq.h).

#include "core/quant/ldlq.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>

#include "core/common/error.h"

namespace glq::quant {
namespace {

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

double proxy_loss(const torch::Tensor& w, const torch::Tensor& w_hat, const torch::Tensor& h) {
    const torch::Tensor d = (w.to(torch::kFloat64) - w_hat.to(torch::kFloat64));
    const torch::Tensor h64 = h.to(d.device(), torch::kFloat64);
    return (d.mm(h64) * d).sum().item<double>() / static_cast<double>(w.size(0));
}

LdlqResult ldlq_quantize(const torch::Tensor& w_in, const torch::Tensor& h_in, const codebook::Codebook& cb, int bpw,
                         const LdlqOptions& options) {
    if (w_in.dim() != 2) throw Error("LDLQ", "the weight must be a matrix, got " + shape_str(w_in));
    const int64_t m = w_in.size(0), n = w_in.size(1);
    const int64_t width = cb.block_width(), group = cb.row_group();
    cb.check_shape(m, n, "LDLQ");
    if (h_in.dim() != 2 || h_in.size(0) != n || h_in.size(1) != n)
        throw Error("LDLQ", "the Hessian must be [" + std::to_string(n) + ", " + std::to_string(n) + "], got " +
                                shape_str(h_in));
    if (!torch::isfinite(w_in).all().item<bool>()) throw Error("LDLQ", "the weight holds NaN or Inf");
    if (!torch::isfinite(h_in).all().item<bool>()) throw Error("LDLQ", "the Hessian holds NaN or Inf");

    cb.check_bpw(bpw, "LDLQ");
    LdlqResult out;
    out.codebook = cb.kind();
    out.bpw = bpw;
    const torch::Device device = w_in.device();
    const std::unique_ptr<codebook::RateEncoder> encoder = cb.encoder(bpw, device);
    const torch::Tensor w = w_in.to(torch::kFloat32).contiguous();
    const torch::Tensor h64 = h_in.to(device, torch::kFloat64);

    // The reference's 3-tier fallback: its 1% damping, then +10% of the mean
    // diagonal (at least 1e-6) on top, then the identity.
    // h_factored is the matrix that factorised (the tuning passes use it too).
    torch::Tensor h_factored = with_damping(h64, options.damping);
    std::optional<BlockLdl> ldl = try_block_ldl(h_factored, width);
    if (!ldl) {
        out.damping_tier = DampingTier::Heavy;
        const double heavy = std::max(0.1 * h64.diagonal().mean().item<double>(), 1e-6);
        h_factored = with_damping(h64 + heavy * torch::eye(n, h64.options()), options.damping);
        ldl = try_block_ldl(h_factored, width);
    }
    if (!ldl) {
        out.damping_tier = DampingTier::Identity;
        h_factored = with_damping(torch::eye(n, h64.options()), options.damping);
        ldl = block_ldl(h_factored, width);
    }
    const torch::Tensor l = ldl->L.to(torch::kFloat32);
    if (options.tune_iters < 0) throw Error("LDLQ", "tune_iters must be >= 0, got " + std::to_string(options.tune_iters));

    const double rms = w.pow(2).mean().sqrt().item<double>();
    out.wscale = rms > 1e-10 ? static_cast<float>(static_cast<float>(rms) * cb.opt_scale()) : 1.0f;
    const torch::Tensor wr = w / out.wscale;

    const int64_t num_blocks = n / width;
    // Per strip, its codes of every stage (leading dimension m / group).
    std::vector<std::vector<torch::Tensor>> strip_codes(static_cast<size_t>(num_blocks));

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
        const int64_t kb = k * width, ke = kb + width;
        torch::Tensor target = wr.slice(1, kb, ke).clone();
        if (options.error_feedback && ke < n) target.add_(resid.slice(1, ke).mm(l.slice(0, ke).slice(1, kb, ke)));

        codebook::StripCodes sc = encoder->encode(target);
        strip_codes[static_cast<size_t>(k)] = std::move(sc.codes);
        resid.slice(1, kb, ke).copy_(wr.slice(1, kb, ke) - sc.recon);
        report(num_blocks - k);
    }

    if (options.tune_iters > 0) {
        // Block coordinate descent on tr(R·H·Rᵀ), R = Wr - Ŵr, with the
        // Hessian the sweep factorised (damped the same way). E = R·H is kept
        // up to date as blocks change: Ŵ_k += δ  =>  E -= δ·H[k, :].
        const torch::Tensor hf = h_factored.to(torch::kFloat32);
        // H_kk⁻¹ for every diagonal block, in float64 then float32: [nb, width, width].
        const torch::Tensor h_blocks = diagonal_blocks(h_factored, width);
        const torch::Tensor h_blocks_f = h_blocks.to(torch::kFloat32).contiguous();
        const torch::Tensor h_blocks_inv = torch::linalg_inv(h_blocks).to(torch::kFloat32).contiguous();
        torch::Tensor e = resid.mm(hf);
        int64_t done = num_blocks;
        for (int it = 0; it < options.tune_iters; ++it) {
            for (int64_t k = num_blocks - 1; k >= 0; --k) {
                if (options.cancel) options.cancel->check();
                const int64_t kb = k * width, ke = kb + width;
                const torch::Tensor what_k = wr.slice(1, kb, ke) - resid.slice(1, kb, ke);  // Ŵr_k
                const torch::Tensor e_k = e.slice(1, kb, ke);
                const torch::Tensor target = what_k + e_k.mm(h_blocks_inv[k]);
                codebook::StripCodes sc = encoder->encode(target);
                // The exact change of each row's proxy: -2·δ·E_kᵀ + δ·H_kk·δᵀ;
                // a group of rows that share codes keeps them or not as one.
                torch::Tensor delta = sc.recon - what_k;
                const torch::Tensor change =
                    (delta.mm(h_blocks_f[k]) * delta).sum(1) - 2.0 * (delta * e_k).sum(1);
                const torch::Tensor keep_groups = group == 1 ? change < 0 : change.reshape({m / group, group}).sum(1) < 0;
                const torch::Tensor keep = group == 1 ? keep_groups : keep_groups.repeat_interleave(group);  // [m]
                delta = delta * keep.unsqueeze(1).to(delta.scalar_type());
                std::vector<torch::Tensor>& codes_k = strip_codes[static_cast<size_t>(k)];
                for (size_t s = 0; s < codes_k.size(); ++s) {
                    std::vector<int64_t> shape(static_cast<size_t>(codes_k[s].dim()), 1);
                    shape[0] = -1;
                    codes_k[s] = torch::where(keep_groups.reshape(shape), sc.codes[s], codes_k[s]);
                }
                resid.slice(1, kb, ke).sub_(delta);
                e.sub_(delta.mm(hf.slice(0, kb, ke)));
                report(++done);
            }
        }
    }

    const size_t stages = strip_codes.empty() ? 0 : strip_codes.front().size();
    for (size_t s = 0; s < stages; ++s) {
        std::vector<torch::Tensor> strips;
        strips.reserve(strip_codes.size());
        for (const auto& c : strip_codes) strips.push_back(c[s]);
        out.codes.push_back(encoder->assemble(strips, m, n));
    }
    out.stage_weights = encoder->stage_weights();
    out.w_hat = encoder->decode(out.codes, m, n, out.wscale);
    const torch::Tensor h_metric = h64;
    out.proxy_loss = proxy_loss(w, out.w_hat, h_metric);
    const double signal = proxy_loss(w, torch::zeros_like(w), h_metric);
    out.relative_proxy_loss = signal > 0 ? out.proxy_loss / signal : 0.0;
    out.mse = (w - out.w_hat).pow(2).mean().item<double>();
    return out;
}

} // namespace glq::quant
