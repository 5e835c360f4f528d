#pragma once
// The Hessian cache: layer Hessians kept on disk between jobs, so that a
// re-run with another bpw map (or the profile after a quantization, or the
// reverse) skips the calibration forwards whose results it already has.
// Kept apart from the job because what a cached file may be reused for is
// a rule of its own, and this file is where it is written down.
//
// Root: default ~/.cache/glq-workbench/hessians (or $XDG_CACHE_HOME), or the
// job's cache_dir. Inside, one folder per calibration key = hash(config.json
// text, weight files' names, sizes and mtimes, calibration text hash,
// nsamples, seqlen, seed, and "contiguous" when the windows were taken in
// order). In it, layer L's file name also carries a hash of the rates of
// every linear in layers 0..L-1 ("dense" for the unquantized model): under
// sequential propagation layer L's Hessians depend exactly on those rates
// (quantization is deterministic), so a re-run with another bpw map reuses
// every layer before the first layer whose predecessors' rates changed,
// layer 0 always, and the profile pass's unquantized Hessians are reused by
// every later profile. Without propagation every layer uses the unquantized
// model's Hessians, all of which are then reusable by any map.
//
// A cache file that cannot be written is a warning, not an error (the job
// has the Hessians in memory); a corrupt one is an error naming the file.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <torch/types.h>

#include "core/io/model_dir.h"
#include "core/model/transformer.h"
#include "core/quant/calibration.h"
#include "core/quant/hessian.h"

namespace glq::quant {

std::filesystem::path default_hessian_cache_dir();

// A key's 16 hex digits (the cache folder's name; the resume settings quote it).
std::string key_hex(uint64_t key);

// The calibration key: everything but the rates that the Hessians depend on.
uint64_t calibration_key(const io::ModelDir& dir, const CalibrationData& data, const CalibrationOptions& options);

// The rates of every linear before `layer`, hashed ("dense" when none).
// Tuning passes change the quantized weights too, so they are part of the
// key ("=2t1"); untuned layers keep the key they always had ("=2").
// `tune_iters` is the job's setting (kTuneItersAuto or N).
std::string rates_key_before(const std::vector<std::string>& prefixes, const std::map<std::string, int>& plan,
                             int64_t layer, int tune_iters);

class HessianCache {
public:
    // `root` empty: default_hessian_cache_dir(). Disabled, it neither reads
    // nor writes, and every layer is captured.
    HessianCache(const std::filesystem::path& root, bool enabled, uint64_t calibration_key);

    // Hessians of decoder layer `layer` for inputs `hidden` that went through
    // layers quantized at `rates_key` (rates_key_before, or "dense"): from the
    // cache when there, else captured (capture_layer_hessians) and stored.
    // `outputs`, when not null, receives the layer's outputs either way.
    LayerHessians layer(model::Transformer& model, int64_t layer, const torch::Tensor& hidden,
                        const std::string& rates_key, torch::Tensor* outputs, const WindowDoneFn& on_window,
                        const CancelToken* cancel, const std::function<void(const std::string&)>& log);

    // How many layers' Hessians came from the cache so far.
    int layers_from_cache() const { return from_cache_; }

private:
    std::filesystem::path folder_;
    bool enabled_;
    int from_cache_ = 0;
};

} // namespace glq::quant
