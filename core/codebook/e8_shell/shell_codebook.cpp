// The E8 shell codebook behind the seam (see shell_codebook.h).

#include "core/codebook/e8_shell/shell_codebook.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <limits>
#include <map>
#include <mutex>
#include <string>

#include "core/codebook/e8_shell/e8_codebook.h"
#include "core/codebook/e8_shell/shell_decode.h"
#include "core/common/error.h"

namespace glq::codebook {
namespace {

// The reference's grid for residual scales (codebook.compute_paired_resid_scale).
constexpr double kResidScaleGrid[] = {0.5, 1.0, 2.0, 3.0, 5.0, 7.0, 10.0, 15.0, 20.0, 30.0};
constexpr int64_t kResidScaleSamples = 8000;

// Stage codewords for x [N, 8] and their indices.
std::pair<torch::Tensor, torch::Tensor> nearest(const torch::Tensor& x, int64_t codebook_size,
                                                const torch::Tensor& table) {
    // The sweep's inputs are finite (W and H are checked once per layer):
    // skip the per-call check, a device sync per block on the GPU.
    torch::Tensor idx = e8_nearest(x.contiguous(), codebook_size, /*check_finite=*/false);
    return {table.index_select(0, idx), idx};
}

class ShellRateEncoder final : public RateEncoder {
public:
    ShellRateEncoder(int bpw, const torch::Device& device)
        : recipe_(shell_recipe(bpw)), table_(e8_codebook_on(device, torch::kFloat32)) {}

    StripCodes encode(const torch::Tensor& target) override {
        StripCodes out;
        torch::Tensor stage_input = target;
        const int64_t stages = recipe_.num_stages();
        for (int64_t s = 0; s < stages; ++s) {
            auto [dec, idx] = nearest(stage_input, recipe_.codebook_sizes[s], table_);
            out.codes.push_back(idx);
            if (s == 0)
                out.recon = dec.clone();
            else
                out.recon.add_(dec, recipe_.stage_weights[s]);
            if (s + 1 < stages) stage_input = (stage_input - dec) * recipe_.resid_scales[s];
        }
        return out;
    }

    torch::Tensor assemble(const std::vector<torch::Tensor>& strips, int64_t m, int64_t n) const override {
        if (static_cast<int64_t>(strips.size()) * kShellBlock != n)
            throw Error("E8 shell codes", std::to_string(strips.size()) + " strips for " + std::to_string(n) + " columns");
        torch::Tensor codes = torch::stack(strips, 1);  // [m, n/8]
        if (codes.size(0) != m) throw Error("E8 shell codes", "strips of " + std::to_string(codes.size(0)) + " rows, not " + std::to_string(m));
        return codes;
    }

    torch::Tensor decode(const std::vector<torch::Tensor>& codes, int64_t, int64_t, float wscale) const override {
        return decode_shell(codes, recipe_.stage_weights, wscale);
    }

    std::vector<float> stage_weights() const override { return recipe_.stage_weights; }

private:
    ShellRecipe recipe_;
    torch::Tensor table_;
};

class E8ShellCodebook final : public Codebook {
public:
    CodebookKind kind() const override { return CodebookKind::E8Shell; }
    int64_t block_width() const override { return kShellBlock; }
    int64_t row_group() const override { return 1; }
    int min_bpw() const override { return kMinShellBpw; }
    int max_bpw() const override { return kMaxShellBpw; }
    void check_shape(int64_t, int64_t n, const std::string& where) const override {
        if (n % kShellBlock != 0)
            throw Error(where, "in_features " + std::to_string(n) +
                                   " is not a multiple of 8: the E8 shell format stores one index per 8 input columns, "
                                   "and padded columns would not decode with the same Hadamard blocks");
    }
    double opt_scale() const override { return kE8OptScale; }
    uint64_t code_bytes(int64_t m, int64_t n, int bpw) const override {
        return static_cast<uint64_t>(shell_stage_sizes(bpw).size()) * static_cast<uint64_t>(m) *
               static_cast<uint64_t>(n / kShellBlock) * 2u;  // every stage stored as int16
    }
    std::unique_ptr<RateEncoder> encoder(int bpw, const torch::Device& device) const override {
        return std::make_unique<ShellRateEncoder>(bpw, device);
    }
};

} // namespace

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
    r.codebook_sizes = shell_stage_sizes(bpw);
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

const Codebook& e8_shell_codebook() {
    static const E8ShellCodebook cb;
    return cb;
}

} // namespace glq::codebook
