#pragma once
// A GLQ e8_shell linear that stays compressed (model::LinearOp, kind "glq"):
// the engine's default for quantized checkpoints. It keeps the codes (16-bit
// indices per stage), the signs and the scales, never a dense weight, and
// multiplies against the codes:
//
//   y = SU ⊙ BD_m( W~ · BD_n(SV ⊙ x) ) + b,   W~ = Wscale·Σ_s w_s·CB[idx_s]
//
// CPU: the checkpoint's row-major codes, the CPU kernels of
// kernels/e8_shell_linear.h and the CPU FWHT. CUDA: the codes re-laid at load
// for the kernels (shell_gpu_layout.h), one fused prep / matvec / finish
// sequence per call up to a batch size, decode-to-dense + cuBLAS above it.
// Resident bytes ≈ the checkpoint's bytes for the layer; the shared table
// (148 KB per device) and the model's workspace are not counted per layer.

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "core/format/shell_layer.h"
#include "core/model/linear.h"
#include "kernels/e8_shell_linear.h"

namespace glq::format {

// The int64 accumulators the CUDA matvec flushes into, one per model (its
// layers run one after another on one stream): zero between calls, grown
// only outside CUDA graph capture (the decode step's eager warm-ups size it).
class ShellWorkspace {
public:
    // At least `elems` zeroed int64 on `device`. Throws glq::Error if it
    // would have to grow while the current stream is being captured.
    torch::Tensor& get(const torch::Device& device, int64_t elems);
    uint64_t bytes() const;

private:
    mutable std::mutex mu_;
    torch::Tensor buf_;
};

class CompressedShellLinear final : public model::LinearOp {
public:
    // Validates the artifacts (glq::Error naming `prefix`) and keeps the codes
    // on `device`. `workspace` is shared by a model's layers (made if null).
    CompressedShellLinear(const ShellLayerArtifacts& artifacts, const torch::Device& device,
                          std::shared_ptr<ShellWorkspace> workspace = nullptr,
                          const std::string& prefix = "GLQ linear");

    torch::Tensor forward(const torch::Tensor& x) const override;
    int64_t in_features() const override { return n_; }
    int64_t out_features() const override { return m_; }
    std::string kind() const override { return "glq"; }
    uint64_t storage_bytes() const override { return storage_bytes_; }
    uint64_t resident_bytes() const override;
    int bpw() const { return bpw_; }
    int64_t num_stages() const { return static_cast<int64_t>(stage_w_.size()); }
    // The re-laid device codes (CUDA) or the checkpoint's codes (CPU).
    const torch::Tensor& device_codes() const { return relaid_; }
    const std::vector<torch::Tensor>& cpu_codes() const { return codes_; }
#ifdef GLQ_WITH_CUDA
    // What the CUDA kernels read (benchmarks call the bare matvec with it).
    kernels::cuda::E8ShellDeviceWeights cuda_weights() const;
#endif

private:
    torch::Tensor forward_cpu(const torch::Tensor& x2) const;
    torch::Tensor forward_cuda(const torch::Tensor& x2) const;

    torch::Device device_ = torch::kCPU;
    int64_t m_ = 0, n_ = 0;
    int bpw_ = 2;
    uint64_t storage_bytes_ = 0;
    std::vector<float> stage_w_;      // Wscale · stage weight
    std::vector<torch::Tensor> codes_;  // CPU: int16 [m, n/8] per stage (reference order)
    torch::Tensor relaid_;            // CUDA: int16 [RT, S, KB, 32, 8] (inference order)
    torch::Tensor table_;             // CUDA: signed-order rows (shared per device)
    torch::Tensor su_, sv_;           // float16 [m], [n] on device
    torch::Tensor bias_;              // float32 [m] or undefined
    std::shared_ptr<ShellWorkspace> workspace_;
};

} // namespace glq::format
