// Builds the E8 search tables from the compiled-in codebook.

#include "core/codebook/e8_shell/e8_lattice.h"

#include <algorithm>
#include <array>
#include <map>
#include <mutex>
#include <numeric>
#include <string>
#include <tuple>
#include <vector>

#include "core/common/error.h"
#include "core/codebook/e8_shell/e8_codebook.h"
#include "core/codebook/e8_shell/e8_codebook_table.h"
#include "kernels/cpu/e8_search_impl.h"

namespace glq::codebook {
namespace {

using Leader = std::array<int, 8>;  // doubled |c_t|, descending

kernels::E8SearchTables build_cpu_tables(int64_t size) {
    const uint32_t* packed = detail::kE8CodebookPacked;
    const auto n = static_cast<size_t>(size);

    std::vector<int32_t> key_rows(n);
    std::iota(key_rows.begin(), key_rows.end(), 0);
    std::sort(key_rows.begin(), key_rows.end(), [&](int32_t a, int32_t b) { return packed[a] < packed[b]; });
    std::vector<int32_t> keys(n);
    for (size_t i = 0; i < n; ++i) keys[i] = static_cast<int32_t>(packed[key_rows[i]]);

    // Group rows by leader; std::map keeps a deterministic group order and
    // rows are appended in ascending index order.
    std::map<std::pair<bool, Leader>, std::vector<int32_t>> by_leader;
    for (int32_t r = 0; r < static_cast<int32_t>(n); ++r) {
        Leader leader;
        for (int t = 0; t < 8; ++t) leader[t] = std::abs(detail::e8_packed_coord2(packed[r], t));
        std::sort(leader.begin(), leader.end(), std::greater<int>());
        const bool half = (leader[0] & 1) != 0;
        by_leader[{half, leader}].push_back(r);
    }
    if (by_leader.size() > static_cast<size_t>(kernels::e8::kMaxGroups))
        throw Error("E8 codebook", "too many coordinate orbits (" + std::to_string(by_leader.size()) + ")");

    std::vector<int32_t> groups;
    std::vector<int32_t> group_rows;
    group_rows.reserve(n);
    for (const auto& [id, rows] : by_leader) {
        const Leader& leader = id.second;
        int norm4 = 0;
        for (int v : leader) norm4 += v * v;
        std::array<int32_t, kernels::e8::kGroupFields> g{};
        g[kernels::e8::kGroupNorm4] = norm4;
        g[kernels::e8::kGroupIsHalf] = id.first ? 1 : 0;
        g[kernels::e8::kGroupBegin] = static_cast<int32_t>(group_rows.size());
        g[kernels::e8::kGroupCount] = static_cast<int32_t>(rows.size());
        for (int t = 0; t < 8; ++t) g[kernels::e8::kGroupLeader + t] = leader[t];
        groups.insert(groups.end(), g.begin(), g.end());
        group_rows.insert(group_rows.end(), rows.begin(), rows.end());
    }

    auto to_tensor = [](const std::vector<int32_t>& v) {
        return torch::from_blob(const_cast<int32_t*>(v.data()), {static_cast<int64_t>(v.size())}, torch::kInt32).clone();
    };
    kernels::E8SearchTables t;
    t.packed = torch::from_blob(const_cast<uint32_t*>(packed), {size}, torch::kInt32).clone();
    t.keys = to_tensor(keys);
    t.key_rows = to_tensor(key_rows);
    t.groups = to_tensor(groups).view({-1, kernels::e8::kGroupFields});
    t.group_rows = to_tensor(group_rows);
    t.size = size;
    return t;
}

} // namespace

bool is_e8_point_doubled(const int* c2) {
    const bool odd = (c2[0] & 1) != 0;
    int sum = 0;
    for (int t = 0; t < 8; ++t) {
        if (((c2[t] & 1) != 0) != odd) return false;
        sum += c2[t];
    }
    return ((sum % 4) + 4) % 4 == 0;
}

const kernels::E8SearchTables& e8_search_tables(int64_t codebook_size, const torch::Device& device) {
    if (codebook_size < 1 || codebook_size > kE8CodebookSize)
        throw Error("E8 codebook", "codebook size " + std::to_string(codebook_size) + " is outside 1.." +
                                       std::to_string(kE8CodebookSize));
    static std::mutex mutex;
    static std::map<std::tuple<int, int, int64_t>, kernels::E8SearchTables> cache;
    std::lock_guard<std::mutex> lock(mutex);
    const auto key = std::make_tuple(static_cast<int>(device.type()), static_cast<int>(device.index()), codebook_size);
    auto it = cache.find(key);
    if (it != cache.end()) return it->second;

    kernels::E8SearchTables t = build_cpu_tables(codebook_size);
    if (!device.is_cpu()) {
        t.packed = t.packed.to(device);
        t.keys = t.keys.to(device);
        t.key_rows = t.key_rows.to(device);
        t.groups = t.groups.to(device);
        t.group_rows = t.group_rows.to(device);
    }
    return cache.emplace(key, std::move(t)).first->second;
}

} // namespace glq::codebook
