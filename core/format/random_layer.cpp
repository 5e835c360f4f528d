// Random e8_shell layers and models (see random_layer.h).

#include "core/format/random_layer.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include "core/codebook/e8_shell/shell_decode.h"
#include "core/format/compressed_linear.h"

namespace glq::format {

ShellLayerArtifacts random_shell_layer(int64_t m, int64_t n, int bpw, uint64_t seed, bool bias) {
    auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
    ShellLayerArtifacts a;
    a.bpw = bpw;
    const std::vector<int64_t> sizes = codebook::shell_stage_sizes(bpw);
    for (size_t s = 0; s < sizes.size(); ++s) {
        a.qidxs.push_back(torch::randint(0, sizes[s], {m, n / 8}, gen, torch::kInt32).to(torch::kInt16));
        if (s > 0) a.inv_resid_scale.push_back(static_cast<float>(std::pow(1.0 / 3.0, static_cast<double>(s))));
    }
    a.su = (torch::randint(0, 2, {m}, gen) * 2 - 1).to(torch::kFloat16);
    a.sv = (torch::randint(0, 2, {n}, gen) * 2 - 1).to(torch::kFloat16);
    a.wscale = 0.02f / 1.5f;  // rms(W~) ≈ 0.02 (the codebook's rms is about 1.5)
    if (bias) a.bias = torch::randn({m}, gen, torch::kFloat32) * 0.01;
    return a;
}

void randomize_to_glq(model::Transformer& model, int bpw, uint64_t seed) {
    const auto workspace = std::make_shared<ShellWorkspace>();
    uint64_t k = 0;
    for (const std::string& prefix : model.linear_prefixes()) {
        const auto old = model.linear(prefix);
        const int64_t m = old->out_features(), n = old->in_features();
        model.replace_linear(prefix, nullptr == old ? nullptr : std::make_shared<CompressedShellLinear>(
                                                                    random_shell_layer(m, n, bpw, seed * 100003 + k++),
                                                                    model.device(), workspace, prefix));
    }
}

} // namespace glq::format
