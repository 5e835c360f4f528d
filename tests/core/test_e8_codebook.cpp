// The compiled-in E8 codebook: lattice membership, shell structure, order and
// the fixed rows the reference documents. (Equality with the reference's own
// file is checked by tests/python/test_e8_codebook_matches_reference.py.)

#include <set>

#include <torch/torch.h>

#include "core/codebook/e8_shell/e8_codebook.h"
#include "core/codebook/e8_shell/e8_codebook_table.h"
#include "core/codebook/e8_shell/e8_lattice.h"
#include "tests/support/test.h"

using namespace glq::codebook;
namespace table = glq::codebook::detail;

GLQ_TEST(table_shape_and_values) {
    const torch::Tensor& cb = e8_codebook();
    CHECK_EQ(cb.size(0), kE8CodebookSize);
    CHECK_EQ(cb.size(1), 8);
    CHECK(cb.scalar_type() == torch::kFloat32);
    CHECK(torch::equal(cb * 2, (cb * 2).round()));
    CHECK_EQ(cb.abs().max().item<float>(), 3.0f);
}

GLQ_TEST(every_row_is_an_e8_point) {
    for (int64_t r = 0; r < kE8CodebookSize; ++r) {
        int c2[8];
        for (int t = 0; t < 8; ++t) c2[t] = table::e8_packed_coord2(table::kE8CodebookPacked[r], t);
        CHECK_MSG(is_e8_point_doubled(c2), "row " << r);
    }
    // The membership test itself rejects non-lattice points.
    const int odd_sum[8] = {2, 0, 0, 0, 0, 0, 0, 0};       // (1,0,...): odd coordinate sum
    const int mixed[8] = {1, 1, 1, 1, 1, 1, 1, 2};         // half and integer mixed
    const int half_odd[8] = {1, 1, 1, 1, 1, 1, 1, -1};     // (½,…,−½): sum 3
    const int half_even[8] = {1, 1, 1, 1, 1, 1, -1, -1};   // sum 2
    CHECK(!is_e8_point_doubled(odd_sum));
    CHECK(!is_e8_point_doubled(mixed));
    CHECK(!is_e8_point_doubled(half_odd));
    CHECK(is_e8_point_doubled(half_even));
}

GLQ_TEST(rows_are_sorted_by_norm_with_the_documented_shell_counts) {
    const torch::Tensor norms = e8_codebook().pow(2).sum(1);
    CHECK(torch::all(norms.slice(0, 1) >= norms.slice(0, 0, -1)).item<bool>());
    const int64_t expected[7][2] = {{0, 1}, {2, 240}, {4, 2160}, {6, 6720}, {8, 17520}, {10, 30240}, {12, 8655}};
    int64_t total = 0;
    for (const auto& [norm, count] : expected) {
        CHECK_EQ(norms.eq(static_cast<double>(norm)).sum().item<int64_t>(), count);
        total += count;
    }
    CHECK_EQ(total, kE8CodebookSize);
}

GLQ_TEST(rows_are_unique) {
    std::set<uint32_t> seen(table::kE8CodebookPacked, table::kE8CodebookPacked + kE8CodebookSize);
    CHECK_EQ(static_cast<int64_t>(seen.size()), kE8CodebookSize);
}

GLQ_TEST(documented_rows) {
    const torch::Tensor& cb = e8_codebook();
    CHECK(torch::equal(cb[0], torch::zeros({8})));
    CHECK(torch::equal(cb[1], torch::tensor({0.f, 1.f, 0.f, 0.f, 0.f, 0.f, -1.f, 0.f})));
    // The secondary codebook (first 256 rows): zero, the 240 roots, 15 of norm 4.
    const torch::Tensor small_norms = cb.slice(0, 0, kE8SmallCodebookSize).pow(2).sum(1);
    CHECK_EQ(small_norms.eq(2.0).sum().item<int64_t>(), 240);
    CHECK_EQ(small_norms.eq(4.0).sum().item<int64_t>(), 15);
}

GLQ_TEST(device_copies_match) {
    const torch::Tensor d = e8_codebook_on(torch::kCPU, torch::kFloat64);
    CHECK(d.scalar_type() == torch::kFloat64);
    CHECK(torch::equal(d.to(torch::kFloat32), e8_codebook()));
    CHECK(e8_codebook_on(torch::kCPU, torch::kFloat64).data_ptr() == d.data_ptr());  // cached
}

GLQ_TEST(search_tables_cover_the_prefix) {
    const auto& full = e8_search_tables(kE8CodebookSize, torch::kCPU);
    CHECK_EQ(full.groups.size(0), 24);  // 15 integer + 9 half-integer leaders up to norm² 12
    CHECK_EQ(full.group_rows.size(0), kE8CodebookSize);
    CHECK(torch::equal(std::get<0>(full.group_rows.sort()), torch::arange(kE8CodebookSize, torch::kInt32)));
    const auto& small = e8_search_tables(kE8SmallCodebookSize, torch::kCPU);
    CHECK_EQ(small.size, kE8SmallCodebookSize);
    CHECK_EQ(small.groups.size(0), 5);  // zero, two root orbits, two norm-4 orbits (partly)
    CHECK_THROWS_WITH(e8_search_tables(0, torch::kCPU), "outside 1..65536");
    CHECK_THROWS_WITH(e8_search_tables(65537, torch::kCPU), "outside 1..65536");
}
