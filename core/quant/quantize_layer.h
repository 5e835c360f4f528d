#pragma once
// One linear layer through the GLQ pipeline with a chosen codebook, as the
// reference's quantize_layer_e8_shell_rht / quantize_layer_trellis_rht do it:
// damp H by 1% of its mean diagonal, RHT both sides of W and the input side
// of H (seed-42 signs), LDLQ at the layer's bit rate with the codebook, and
// the codes in the checkpoint's layout (core/format/layer_codes.h, which also
// holds their decode).
// No padding: the codebook's shape rule applies (E8: in_features % 8 == 0;
// the reference pads to a multiple of 8 after the RHT, but a padded n
// block-decomposes differently on load, so such a layer would not
// round-trip). Anything else gets a clear error.

#include <cstdint>
#include <string>
#include <vector>

#include <torch/types.h>

#include "core/common/progress.h"
#include "core/format/layer_metrics.h"
#include "core/codebook/codebook.h"
#include "core/format/layer_codes.h"
#include "core/quant/ldlq.h"

namespace glq::quant {

using format::LayerCodes;
using format::ShellLayerArtifacts;

struct LayerQuantOptions {
    codebook::CodebookKind codebook = codebook::CodebookKind::E8Shell;
    int bpw = 2;
    double damping = 0.01;      // relative, applied before the RHT (and again inside LDLQ)
    uint64_t sign_seed = 42;    // the reference's RHT seed
    bool error_feedback = true;
    int tune_iters = 0;         // LDLQ refinement passes (LdlqOptions::tune_iters)
    const CancelToken* cancel = nullptr;
    ProgressFn progress;
};

using format::LayerQuantMetrics;

struct QuantizedLayer {
    LayerCodes codes;               // on the CPU
    torch::Tensor w_hat;            // float32 [m, n], original domain, on W's device
    LayerQuantMetrics metrics;
};

// W [m, n] (out, in) and H [n, n] (the layer input's XᵀX/N). Runs on W's
// device. `bias` (optional, [m]) is carried into the artifacts untouched.
QuantizedLayer quantize_layer(const torch::Tensor& w, const torch::Tensor& h, const LayerQuantOptions& options,
                              const torch::Tensor& bias = {});

using format::decode_rht_weight;
using format::dequantize_layer;

} // namespace glq::quant
