// The CUDA kernels' layout of E8 shell codes (see shell_gpu_layout.h).

#include "core/format/shell_gpu_layout.h"

#include <cstring>
#include <map>
#include <mutex>
#include <string>

#include <torch/torch.h>

#include "core/codebook/e8_shell/e8_codebook_table.h"
#include "core/codebook/e8_shell/e8_signed_order.h"
#include "core/common/error.h"

namespace glq::format {
namespace {

constexpr int64_t kLanes = 32, kPerLane = 8;  // codes per lane and block
constexpr int64_t kRowsPerTile = 32, kGroupsPerBlock = 8;

// Where code (row i, group j) of stage s sits in the layout (see the header).
struct Slot {
    int64_t rt, kb, lane, k;
};
inline Slot slot_of(int64_t i, int64_t j) {
    const int64_t rt = i / kRowsPerTile, r = i % kRowsPerTile;  // r = 8·q + g
    const int64_t kb = j / kGroupsPerBlock, jj = j % kGroupsPerBlock;  // jj = 4·ks + t
    const int64_t g = r % 8, q = r / 8, ks = jj / 4, t = jj % 4;
    return {rt, kb, g * 4 + t, ks * 4 + q};
}

const std::vector<uint16_t>& ref_of_code() {
    static const std::vector<uint16_t> inv = [] {
        const auto& order = codebook::e8_signed_order();
        std::vector<uint16_t> r(order.code_of.size());
        for (size_t i = 0; i < order.code_of.size(); ++i) r[order.code_of[i]] = static_cast<uint16_t>(i);
        return r;
    }();
    return inv;
}

} // namespace

uint16_t shell_zero_code() {
    static const uint16_t zero = [] {
        for (uint32_t i = 0; i < 65536; ++i)
            if (codebook::detail::kE8CodebookPacked[i] == 0x66666666u) return codebook::e8_signed_order().code_of[i];
        throw Error("E8 signed order", "the codebook has no zero point");
    }();
    return zero;
}

torch::Tensor relay_shell_codes(const std::vector<torch::Tensor>& qidxs) {
    if (qidxs.empty()) throw Error("GLQ layout", "no stages");
    const int64_t S = static_cast<int64_t>(qidxs.size());
    const int64_t m = qidxs[0].size(0), n8 = qidxs[0].size(1);
    const int64_t RT = (m + kRowsPerTile - 1) / kRowsPerTile, KB = (n8 + kGroupsPerBlock - 1) / kGroupsPerBlock;
    const auto& code_of = codebook::e8_signed_order().code_of;
    torch::Tensor out = torch::full({RT, S, KB, kLanes, kPerLane}, static_cast<int16_t>(shell_zero_code()),
                                    torch::kInt16);
    auto* o = reinterpret_cast<uint16_t*>(out.data_ptr<int16_t>());
    for (int64_t s = 0; s < S; ++s) {
        const torch::Tensor q = qidxs[static_cast<size_t>(s)].to(torch::kCPU, torch::kInt16).contiguous();
        if (q.dim() != 2 || q.size(0) != m || q.size(1) != n8) throw Error("GLQ layout", "stages differ in shape");
        const auto* src = reinterpret_cast<const uint16_t*>(q.data_ptr<int16_t>());
        for (int64_t i = 0; i < m; ++i)
            for (int64_t j = 0; j < n8; ++j) {
                const Slot p = slot_of(i, j);
                o[(((p.rt * S + s) * KB + p.kb) * kLanes + p.lane) * kPerLane + p.k] = code_of[src[i * n8 + j]];
            }
    }
    return out;
}

std::vector<torch::Tensor> unrelay_shell_codes(const torch::Tensor& relaid_in, int64_t m, int64_t n) {
    const torch::Tensor relaid = relaid_in.to(torch::kCPU).contiguous();
    if (relaid.dim() != 5 || relaid.size(3) != kLanes || relaid.size(4) != kPerLane)
        throw Error("GLQ layout", "not a relaid code tensor");
    const int64_t RT = relaid.size(0), S = relaid.size(1), KB = relaid.size(2), n8 = n / 8;
    if (RT * kRowsPerTile < m || KB * kGroupsPerBlock < n8) throw Error("GLQ layout", "layout smaller than the matrix");
    const auto& ref = ref_of_code();
    const auto* o = reinterpret_cast<const uint16_t*>(relaid.data_ptr<int16_t>());
    std::vector<torch::Tensor> stages;
    for (int64_t s = 0; s < S; ++s) {
        torch::Tensor q = torch::empty({m, n8}, torch::kInt16);
        auto* d = reinterpret_cast<uint16_t*>(q.data_ptr<int16_t>());
        for (int64_t i = 0; i < m; ++i)
            for (int64_t j = 0; j < n8; ++j) {
                const Slot p = slot_of(i, j);
                d[i * n8 + j] = ref[o[(((p.rt * S + s) * KB + p.kb) * kLanes + p.lane) * kPerLane + p.k]];
            }
        stages.push_back(q);
    }
    return stages;
}

torch::Tensor shell_signed_table_on(const torch::Device& device) {
    static std::mutex mu;
    static std::map<std::string, torch::Tensor> cache;
    const std::lock_guard<std::mutex> lock(mu);
    const std::string key = device.str();
    auto it = cache.find(key);
    if (it != cache.end()) return it->second;
    const auto& rows = codebook::e8_signed_order().rep_rows;
    torch::Tensor t = torch::empty({static_cast<int64_t>(rows.size())}, torch::kInt32);
    std::memcpy(t.data_ptr<int32_t>(), rows.data(), rows.size() * sizeof(uint32_t));
    t = t.to(device);
    cache.emplace(key, t);
    return t;
}

} // namespace glq::format
