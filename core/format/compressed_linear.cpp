// GLQ e8_shell linear that stays compressed (see compressed_linear.h).

#include "core/format/compressed_linear.h"

#include "core/codebook/e8_shell/e8_codebook_table.h"
#include "core/common/error.h"
#include "core/format/shell_gpu_layout.h"
#include "kernels/e8_shell_linear.h"
#include "kernels/fwht.h"

namespace glq::format {

torch::Tensor& ShellWorkspace::get(const torch::Device& device, int64_t elems) {
    const std::lock_guard<std::mutex> lock(mu_);
    if (!buf_.defined() || buf_.numel() < elems || buf_.device() != device) {
#ifdef GLQ_WITH_CUDA
        if (device.is_cuda() && kernels::cuda::current_stream_capturing())
            throw Error("GLQ linear", "its workspace would have to grow from " +
                                          std::to_string(buf_.defined() ? buf_.numel() : 0) + " to " + std::to_string(elems) +
                                          " int64 while a CUDA graph is being captured; run the step once outside capture first");
#endif
        buf_ = torch::zeros({std::max<int64_t>(elems, 1)}, torch::TensorOptions().dtype(torch::kInt64).device(device));
    }
    return buf_;
}

uint64_t ShellWorkspace::bytes() const {
    const std::lock_guard<std::mutex> lock(mu_);
    return buf_.defined() ? static_cast<uint64_t>(buf_.numel()) * 8 : 0;
}

CompressedShellLinear::CompressedShellLinear(const ShellLayerArtifacts& a, const torch::Device& device,
                                             std::shared_ptr<ShellWorkspace> workspace, const std::string& prefix)
    : device_(device), workspace_(std::move(workspace)) {
    a.validate(prefix);
    m_ = a.out_features();
    n_ = a.in_features();
    bpw_ = a.bpw;
    storage_bytes_ = a.storage_bytes();
    for (float w : a.stage_weights()) stage_w_.push_back(a.wscale * w);
    su_ = a.su.to(device, torch::kFloat16).contiguous();
    sv_ = a.sv.to(device, torch::kFloat16).contiguous();
    if (a.bias.defined()) bias_ = a.bias.to(device, torch::kFloat32).contiguous();
    if (device.is_cuda()) {
#ifdef GLQ_WITH_CUDA
        relaid_ = relay_shell_codes(a.qidxs).to(device);
        table_ = shell_signed_table_on(device);
        if (!workspace_) workspace_ = std::make_shared<ShellWorkspace>();
#else
        throw Error(prefix, "this build has no CUDA kernels");
#endif
    } else {
        for (const torch::Tensor& q : a.qidxs) codes_.push_back(q.to(torch::kCPU, torch::kInt16).contiguous());
    }
}

uint64_t CompressedShellLinear::resident_bytes() const {
    auto bytes = [](const torch::Tensor& t) {
        return t.defined() ? static_cast<uint64_t>(t.numel()) * t.element_size() : uint64_t{0};
    };
    uint64_t b = bytes(relaid_) + bytes(su_) + bytes(sv_) + bytes(bias_) +
                 stage_w_.size() * sizeof(float);
    for (const torch::Tensor& c : codes_) b += bytes(c);
    return b;
}

torch::Tensor CompressedShellLinear::forward(const torch::Tensor& x) const {
    if (x.size(-1) != n_)
        throw Error("GLQ linear", "input has " + std::to_string(x.size(-1)) + " features, expected " + std::to_string(n_));
    std::vector<int64_t> shape = x.sizes().vec();
    const torch::Tensor x2 = x.reshape({-1, n_}).contiguous();
    torch::Tensor y = device_.is_cuda() ? forward_cuda(x2) : forward_cpu(x2);
    shape.back() = m_;
    return y.reshape(shape);
}

torch::Tensor CompressedShellLinear::forward_cpu(const torch::Tensor& x2) const {
    const torch::Tensor xt = kernels::block_hadamard(x2.to(torch::kFloat32) * sv_.to(torch::kFloat32)).contiguous();
    const torch::Tensor yt = kernels::cpu::e8_shell_matmul(xt, codes_, stage_w_, codebook::detail::kE8CodebookPacked);
    torch::Tensor y = kernels::block_hadamard(yt) * su_.to(torch::kFloat32);
    if (bias_.defined()) y = y + bias_;
    return y.to(x2.scalar_type());
}

#ifdef GLQ_WITH_CUDA
kernels::cuda::E8ShellDeviceWeights CompressedShellLinear::cuda_weights() const {
    kernels::cuda::E8ShellDeviceWeights w;
    w.codes = relaid_;
    w.table = table_;
    w.su = su_;
    w.sv = sv_;
    w.bias = bias_;
    w.stage_w = stage_w_;
    w.m = m_;
    w.n = n_;
    w.S = num_stages();
    return w;
}
#endif

torch::Tensor CompressedShellLinear::forward_cuda(const torch::Tensor& x2) const {
#ifdef GLQ_WITH_CUDA
    const torch::ScalarType t = x2.scalar_type();
    const bool native = t == torch::kFloat32 || t == torch::kFloat16 || t == torch::kBFloat16;
    const torch::Tensor xin = native ? x2 : x2.to(torch::kFloat32);
    const kernels::cuda::E8ShellDeviceWeights w = cuda_weights();
    const int64_t B = xin.size(0);
    torch::Tensor out = torch::empty({B, m_}, xin.options());
    torch::Tensor none;
    torch::Tensor& ws = B >= kernels::cuda::e8_shell_dense_min_batch()
                            ? none
                            : workspace_->get(xin.device(), kernels::cuda::e8_shell_workspace_elems(m_, num_stages(), B));
    kernels::cuda::e8_shell_forward(w, xin, out, ws);
    return native ? out : out.to(t);
#else
    return x2;
#endif
}

} // namespace glq::format
