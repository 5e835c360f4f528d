// Randomized Hadamard transform (see rht.h), on top of the block FWHT kernels.

#include "core/quant/rht.h"

#include <ATen/CPUGeneratorImpl.h>
#include <string>

#include "core/common/error.h"
#include "kernels/fwht.h"

namespace glq::quant {
namespace {

void check_matrix(const torch::Tensor& t, const char* what) {
    if (t.dim() != 2) throw Error(what, "expected a matrix, got " + std::to_string(t.dim()) + " dimensions");
    if (!t.is_floating_point())
        throw Error(what, std::string("expected a floating-point tensor, got ") + c10::toString(t.scalar_type()));
}

void check_signs(const torch::Tensor& s, int64_t n, const char* what) {
    if (s.dim() != 1 || s.size(0) != n)
        throw Error(what, "expected " + std::to_string(n) + " signs, got shape " + c10::str(s.sizes()));
}

// BD along dim 0 of a matrix: transform the transpose's rows.
torch::Tensor hadamard_rows(const torch::Tensor& x) {
    return kernels::block_hadamard(x.t().contiguous()).t().contiguous();
}

} // namespace

RhtSigns reference_signs(int64_t m, int64_t n, uint64_t seed) {
    if (m < 1 || n < 1)
        throw Error("reference_signs", "dimensions " + std::to_string(m) + " x " + std::to_string(n) + " are not positive");
    // Same draws as glq's RHT: torch.Generator('cpu').manual_seed(seed), then
    // randint(0, 2, (m,)) for SU and randint(0, 2, (n,)) for SV.
    at::Generator gen = at::detail::createCPUGenerator(seed);
    RhtSigns s;
    s.su = torch::randint(0, 2, {m}, gen, torch::kInt64).to(torch::kFloat32) * 2 - 1;
    s.sv = torch::randint(0, 2, {n}, gen, torch::kInt64).to(torch::kFloat32) * 2 - 1;
    return s;
}

torch::Tensor rht_weight(const torch::Tensor& w, const torch::Tensor& su, const torch::Tensor& sv) {
    check_matrix(w, "rht_weight");
    check_signs(su, w.size(0), "rht_weight (SU)");
    check_signs(sv, w.size(1), "rht_weight (SV)");
    const torch::Tensor signed_w = w * sv.to(w.options()).unsqueeze(0) * su.to(w.options()).unsqueeze(1);
    return hadamard_rows(kernels::block_hadamard(signed_w));
}

torch::Tensor rht_hessian(const torch::Tensor& h, const torch::Tensor& sv) {
    check_matrix(h, "rht_hessian");
    if (h.size(0) != h.size(1)) throw Error("rht_hessian", "expected a square matrix, got " + c10::str(h.sizes()));
    check_signs(sv, h.size(0), "rht_hessian (SV)");
    const torch::Tensor s = sv.to(h.options());
    return hadamard_rows(kernels::block_hadamard(h * s.unsqueeze(0) * s.unsqueeze(1)));
}

} // namespace glq::quant
