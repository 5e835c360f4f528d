#include "core/model/rope.h"

#include <cmath>
#include <numbers>

#include "core/common/error.h"

namespace glq::model {

torch::Tensor rope_inv_freq(int64_t head_dim, double theta, const io::RopeScaling& scaling) {
    if (head_dim <= 0 || head_dim % 2 != 0)
        throw Error("rope", "head_dim must be a positive even number, got " + std::to_string(head_dim));
    // HF: 1 / base ** (arange(0, dim, 2, int64).float() / dim), all in fp32.
    const auto exponents = torch::arange(0, head_dim, 2, torch::kInt64).to(torch::kFloat32) / static_cast<float>(head_dim);
    const torch::Tensor inv_freq = 1.0 / torch::pow(c10::Scalar(theta), exponents);

    if (scaling.type == "default") return inv_freq;
    if (scaling.type == "linear") return inv_freq / static_cast<float>(scaling.factor);
    if (scaling.type == "llama3") {
        const double factor = scaling.factor;
        const double old_context = static_cast<double>(scaling.original_max_position_embeddings);
        const double low_freq_wavelen = old_context / scaling.low_freq_factor;
        const double high_freq_wavelen = old_context / scaling.high_freq_factor;
        const torch::Tensor wavelen = 2 * std::numbers::pi / inv_freq;
        torch::Tensor scaled = torch::where(wavelen > low_freq_wavelen, inv_freq / factor, inv_freq);
        const torch::Tensor smooth =
            (old_context / wavelen - scaling.low_freq_factor) / (scaling.high_freq_factor - scaling.low_freq_factor);
        const torch::Tensor smoothed = (1 - smooth) * scaled / factor + smooth * scaled;
        const torch::Tensor medium = (wavelen >= high_freq_wavelen).logical_and(wavelen <= low_freq_wavelen);
        return torch::where(medium, smoothed, scaled).to(torch::kFloat32);
    }
    throw Error("rope_scaling", "unsupported rope type '" + scaling.type + "' (supported: default, linear, llama3)");
}

RopeTable::RopeTable(torch::Tensor inv_freq, torch::ScalarType dtype, torch::Device device, int64_t initial_length)
    : inv_freq_(inv_freq.to(device, torch::kFloat32)), dtype_(dtype) {
    reserve(initial_length);
}

void RopeTable::reserve(int64_t length) {
    if (length <= this->length()) return;
    const auto positions = torch::arange(length, inv_freq_.options());
    const torch::Tensor freqs = torch::outer(positions, inv_freq_);  // fp32, exact products like HF
    const torch::Tensor emb = torch::cat({freqs, freqs}, -1);
    cos_ = emb.cos().to(dtype_);
    sin_ = emb.sin().to(dtype_);
}

torch::Tensor apply_rope(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin) {
    const int64_t half = x.size(-1) / 2;
    const torch::Tensor x1 = x.narrow(-1, 0, half);
    const torch::Tensor x2 = x.narrow(-1, half, half);
    const torch::Tensor rotated = torch::cat({-x2, x1}, -1);
    return x * cos + rotated * sin;
}

} // namespace glq::model
