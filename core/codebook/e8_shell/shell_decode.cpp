// The E8 shell format's stage recipes and decoder (see shell_decode.h).

#include "core/codebook/e8_shell/shell_decode.h"

#include <torch/torch.h>

#include <string>

#include "core/codebook/e8_shell/e8_codebook.h"
#include "core/common/error.h"

namespace glq::codebook {
namespace {

std::string shape_str(const torch::Tensor& t) {
    std::string s = "[";
    for (int64_t d = 0; d < t.dim(); ++d) s += (d ? ", " : "") + std::to_string(t.size(d));
    return s + "]";
}

} // namespace

std::vector<int64_t> shell_stage_sizes(int bpw) {
    if (bpw < kMinShellBpw || bpw > kMaxShellBpw)
        throw Error("bpw " + std::to_string(bpw), "the E8 shell codebook supports 2..8 bits per weight");
    std::vector<int64_t> sizes(static_cast<size_t>(bpw / 2), kE8CodebookSize);
    if (bpw % 2 == 1) sizes.push_back(kE8SmallCodebookSize);
    return sizes;
}

torch::Tensor decode_shell(const std::vector<torch::Tensor>& indices, const std::vector<float>& stage_weights,
                           float wscale) {
    if (indices.empty()) throw Error("shell decode", "no index stages");
    if (stage_weights.size() != indices.size())
        throw Error("shell decode", std::to_string(indices.size()) + " index stages but " +
                                        std::to_string(stage_weights.size()) + " stage weights");
    const torch::Tensor& first = indices.front();
    if (first.dim() != 2) throw Error("shell decode", "indices must be [rows, cols/8], got " + shape_str(first));
    const int64_t m = first.size(0), c = first.size(1);
    const torch::Tensor table = e8_codebook_on(first.device(), torch::kFloat32);
    torch::Tensor acc;
    for (size_t s = 0; s < indices.size(); ++s) {
        const torch::Tensor& q = indices[s];
        if (q.sizes() != first.sizes())
            throw Error("shell decode", "stage " + std::to_string(s + 1) + " indices have shape " + shape_str(q) +
                                            ", stage 1 has " + shape_str(first));
        // int16 storage holds uint16 bit patterns: mask after widening.
        const torch::Tensor idx = q.to(torch::kInt64).bitwise_and(0xFFFF).reshape({-1});
        const torch::Tensor dec = table.index_select(0, idx).reshape({m, c * 8});
        if (s == 0)
            acc = stage_weights[0] == 1.0f ? dec.clone() : dec * stage_weights[0];
        else
            acc.add_(dec, stage_weights[s]);
    }
    return acc.mul_(wscale);
}

} // namespace glq::codebook
