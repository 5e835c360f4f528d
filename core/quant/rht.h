#pragma once
// Randomized Hadamard transform, as the reference applies it: random ±1 signs
// and an orthonormal Sylvester-order Walsh–Hadamard transform, block-diagonal
// over the binary decomposition of the dimension (largest block first, no
// padding), e.g. 2688 -> [2048, 512, 128].
//   W~ = BD_m · diag(SU) · W · diag(SV) · BD_n,  H~ = BD_n · diag(SV) · H · diag(SV) · BD_n
// and at inference  y = SU ⊙ BD_m((BD_n(SV ⊙ x)) · W~ᵀ).

#include <cstdint>
#include <vector>

#include <torch/types.h>

#include "core/format/shell_layer.h"
#include "kernels/fwht.h"

namespace glq::quant {

// The block structure and the transform itself live with the FWHT kernels
// (kernels/fwht.h); the quantizer names them here.
using kernels::block_decompose;
using kernels::block_hadamard;

// The reference's signs: torch CPU generator seeded 42, SU = randint(0,2,(m,))*2-1
// drawn first, then SV for n. Returned as float32 CPU vectors of ±1.
struct RhtSigns {
    torch::Tensor su;  // [m]
    torch::Tensor sv;  // [n]
};
RhtSigns reference_signs(int64_t m, int64_t n, uint64_t seed = 42);

// W~ for W [m, n] and H~ for H [n, n].
torch::Tensor rht_weight(const torch::Tensor& w, const torch::Tensor& su, const torch::Tensor& sv);
torch::Tensor rht_hessian(const torch::Tensor& h, const torch::Tensor& sv);
// Inverse of rht_weight (the decode side, core/format/shell_layer.h).
using format::inverse_rht_weight;

} // namespace glq::quant
