// The compiled-in E8 shell codebook and the nearest-codeword entry points.

#include "core/codebook/e8_shell/e8_codebook.h"

#include <map>
#include <mutex>
#include <string>
#include <tuple>

#include "core/common/error.h"
#include "core/codebook/e8_shell/e8_codebook_table.h"
#include "core/codebook/e8_shell/e8_lattice.h"

namespace glq::codebook {
namespace {

torch::Tensor unpack_table() {
    torch::Tensor cb = torch::empty({kE8CodebookSize, 8}, torch::kFloat32);
    float* p = cb.data_ptr<float>();
    for (int64_t r = 0; r < kE8CodebookSize; ++r)
        for (int t = 0; t < 8; ++t) p[8 * r + t] = 0.5f * static_cast<float>(detail::e8_packed_coord2(detail::kE8CodebookPacked[r], t));
    return cb;
}

void check_size(int64_t codebook_size) {
    if (codebook_size < 1 || codebook_size > kE8CodebookSize)
        throw Error("E8 codebook", "codebook size " + std::to_string(codebook_size) + " is outside 1.." +
                                       std::to_string(kE8CodebookSize));
}

} // namespace

const torch::Tensor& e8_codebook() {
    static const torch::Tensor table = unpack_table();
    return table;
}

torch::Tensor e8_codebook_on(const torch::Device& device, torch::ScalarType dtype) {
    if (device.is_cpu() && dtype == torch::kFloat32) return e8_codebook();
    static std::mutex mutex;
    static std::map<std::tuple<int, int, int>, torch::Tensor> cache;
    std::lock_guard<std::mutex> lock(mutex);
    const auto key = std::make_tuple(static_cast<int>(device.type()), static_cast<int>(device.index()), static_cast<int>(dtype));
    auto it = cache.find(key);
    if (it == cache.end()) it = cache.emplace(key, e8_codebook().to(device, dtype)).first;
    return it->second;
}

torch::Tensor e8_nearest(const torch::Tensor& x, int64_t codebook_size, bool check_finite) {
    check_size(codebook_size);
    return kernels::e8_nearest(x, e8_search_tables(codebook_size, x.device()), check_finite);
}

torch::Tensor e8_nearest_bruteforce(const torch::Tensor& x, int64_t codebook_size) {
    check_size(codebook_size);
    return kernels::e8_nearest_bruteforce(x, e8_search_tables(codebook_size, x.device()));
}

} // namespace glq::codebook
