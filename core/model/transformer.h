#pragma once
// The llama-family causal LM (llama, mistral, qwen2, qwen3, smollm3; SmolLM2
// is llama) in LibTorch, on CPU or CUDA, in fp32/bf16/fp16.
//
// Three ways to run it:
//  * forward(ids, cache, start): the engine's prefill/decode path;
//  * decode_static(ids, positions, cache): one decode step whose shapes and
//    addresses never change, so DecodeStep can capture it in a CUDA graph;
//  * the per-layer API for layer-by-layer calibration (GLQ pipeline):
//        torch::Tensor h = model.embed(ids);                   // [B, T, C]
//        for (i...) h = model.decoder_layer(i).forward(h, positions);
//        logits = model.lm_head(model.final_norm(h));
//    decoder_layer(i).forward(h, positions) needs no cache and is causal
//    (sliding window where the config has one); positions are [T] int64.
//
// Quantization hooks. Every projection of every layer is a LinearOp
// (linear.h) addressed by its HF module prefix; linear_prefixes() lists them
// in execution order ("model.layers.0.self_attn.q_proj", k_proj, v_proj,
// o_proj, mlp.gate_proj, up_proj, down_proj, then layer 1, ...).
// replace_linear(prefix, op) swaps one (shape-checked); the KV cache and any
// captured CUDA graph built before a swap must be rebuilt (DecodeStep does so
// when its model's revision() changes).
// set_linear_observer(fn) installs a callback run with each projection's
// input [B, T, in] (model dtype, on the model's device) just before the
// projection: the hook for Hessian capture (H += x^T x). q/k/v receive the same
// tensor, as do gate/up; o_proj and down_proj have their own inputs. The
// tensor is only valid during the call: copy or accumulate, do not keep it.
// Clear it with set_linear_observer({}) (an observer must not be installed
// while a CUDA graph is captured).

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "core/common/progress.h"
#include "core/io/hf_config.h"
#include "core/io/model_dir.h"
#include "core/model/decoder_layer.h"
#include "core/model/kv_cache.h"
#include "core/model/linear.h"
#include "core/model/rope.h"

namespace glq::model {

// Supplies a projection's op in place of the dense "<prefix>.weight" (and
// ".bias") the loader would read: the hook for quantized checkpoints, whose
// linears are stored as codes (format::load_glq_model), so loading one reads
// the folder once and writes nothing. Called once per projection, in
// linear_prefixes() order, with the shape config.json gives; return nullptr to
// have the loader read the dense weight. The op must have that shape.
using LinearFactory = std::function<std::shared_ptr<LinearOp>(const std::string& prefix, int64_t out_features,
                                                              int64_t in_features, bool bias)>;

struct LoadOptions {
    torch::ScalarType dtype = torch::kFloat32;
    torch::Device device = torch::kCPU;
    ProgressFn progress;          // stage "load", unit "tensors"
    const CancelToken* cancel = nullptr;
    // Set by loaders of quantized checkpoints; with it, a folder whose
    // config.json has a quantization_config is accepted (the factory's owner
    // has checked that it understands it). Without it such a folder is refused.
    LinearFactory linear_factory;
    // Layer streaming, for the GLQ pipeline, whose model may be larger than
    // the GPU: every weight is loaded to the host and only the RoPE table to
    // `device`, where the caller computes one layer at a time, moving it there
    // and back with Transformer::move_layer. embed() returns on `device`;
    // forward() and decode_static() refuse (they need every layer at once).
    bool stream_layers = false;
    // Quantized checkpoints: dequantise every quantized linear to a dense
    // weight at load (the reference path tests compare against) instead of
    // keeping it compressed, the default (core/format/compressed_linear.h).
    bool decode_on_load = false;
};

class Transformer {
public:
    // Loads an HF model folder (see io::ModelDir). Throws glq::Error naming
    // the folder and tensor for missing tensors or shapes that disagree with
    // config.json; glq::Cancelled when cancelled.
    static std::unique_ptr<Transformer> load(const io::ModelDir& dir, const LoadOptions& options = {});
    static std::unique_ptr<Transformer> load(const std::filesystem::path& dir, const LoadOptions& options = {});
    // Random weights (N(0, 0.02), unit norms) of the config's shape: for
    // benchmarks of a model shape nobody has to download. Seeded.
    static std::unique_ptr<Transformer> random(const io::ModelConfig& config, torch::ScalarType dtype,
                                               torch::Device device, uint64_t seed = 0);

    Transformer(const Transformer&) = delete;
    Transformer& operator=(const Transformer&) = delete;

    const io::ModelConfig& config() const { return config_; }
    torch::ScalarType dtype() const { return dtype_; }
    torch::Device device() const { return device_; }
    int64_t num_layers() const { return static_cast<int64_t>(layers_.size()); }

    // ids [B, T] (int64, any device) at positions start..start+T-1. With a
    // cache, keys/values are written to slots start.. and attention covers
    // slots 0..start+T-1 (cache->length becomes start+T); without, start must
    // be 0. Returns logits [B, T, V] in the model dtype, or only the last
    // position's [B, 1, V] when last_only.
    torch::Tensor forward(const torch::Tensor& ids, KVCache* cache = nullptr, int64_t start = 0,
                          bool last_only = false);
    // One static-shape decode step: ids [B, 1] and positions [1] int64, both on
    // the model's device; attends over the cache's whole capacity under a mask
    // computed on the device. Returns logits [B, V]. Does not touch
    // cache.length (the caller owns the position). No host synchronisation.
    torch::Tensor decode_static(const torch::Tensor& ids, const torch::Tensor& positions, KVCache& cache);

    // Per-layer API (calibration).
    torch::Tensor embed(const torch::Tensor& ids) const;
    DecoderLayer& decoder_layer(int64_t i);
    const DecoderLayer& decoder_layer(int64_t i) const;
    // Layer streaming (LoadOptions::stream_layers): moves layer i's weights
    // to `device` (the compute device before running it, the host after).
    void move_layer(int64_t i, const torch::Device& device);
    bool streams_layers() const { return stream_layers_; }
    torch::Tensor final_norm(const torch::Tensor& hidden) const;
    torch::Tensor lm_head(const torch::Tensor& hidden) const;
    // Makes RoPE positions 0..length-1 available (forward does it itself;
    // per-layer callers and graph captures call it first).
    void reserve_positions(int64_t length);

    // Quantization hooks (see the top of this file).
    std::vector<std::string> linear_prefixes() const;
    std::shared_ptr<LinearOp> linear(const std::string& prefix) const;
    void replace_linear(const std::string& prefix, std::shared_ptr<LinearOp> op);
    void set_linear_observer(LinearObserver observer);
    // Bumped by replace_linear: caches of the model's structure compare it.
    uint64_t revision() const { return revision_; }

    KVCache new_cache(int64_t batch, int64_t capacity) const;
    // The weights' bytes as the checkpoint stores them, and as the loaded
    // model holds them (LinearOp::resident_bytes; shared tables excluded).
    uint64_t parameter_bytes() const;
    uint64_t resident_bytes() const;

private:
    Transformer(io::ModelConfig config, torch::ScalarType dtype, torch::Device device);
    void finish_init(torch::Tensor embedding, torch::Tensor final_norm, torch::Tensor lm_head);
    Projection& find_projection(const std::string& prefix) const;
    void check_not_streamed(const char* what) const;
    uint64_t weight_bytes(bool resident) const;

    io::ModelConfig config_;
    torch::ScalarType dtype_;
    torch::Device device_;
    torch::Tensor embedding_;      // [V, C]
    torch::Tensor norm_;           // [C]
    torch::Tensor lm_head_;        // [V, C], the embedding when tied
    RopeTable rope_;
    LinearObserver observer_;
    std::vector<std::unique_ptr<DecoderLayer>> layers_;
    std::map<std::string, std::pair<int64_t, DecoderLayer::Slot>> by_prefix_;
    uint64_t revision_ = 0;
    bool stream_layers_ = false;
};

} // namespace glq::model
