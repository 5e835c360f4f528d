#pragma once
// Random e8_shell layers of a real shape, for benchmarks (speed does not depend
// on which codes a layer holds) and for random-weight GLQ models of shapes
// nobody has to download: uniform codes of the bpw's stage recipe, random
// ±1 signs, the reference's stage scales, a plausible Wscale.

#include <cstdint>
#include <memory>

#include "core/format/shell_layer.h"
#include "core/model/transformer.h"

namespace glq::format {

ShellLayerArtifacts random_shell_layer(int64_t out_features, int64_t in_features, int bpw, uint64_t seed,
                                       bool bias = false);

// Replaces every linear of `model` by a CompressedShellLinear of random codes
// at `bpw` (one workspace for the model). The dense weights are released.
void randomize_to_glq(model::Transformer& model, int bpw, uint64_t seed = 0);

} // namespace glq::format
