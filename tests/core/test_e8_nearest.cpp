// Nearest-codeword search vs the exact brute force, on random inputs at the
// scales LDLQ produces and on the hard cases: points far outside the
// codebook, exact lattice points (in and out of the codebook) and exact
// midpoints between codewords, where ties must go to the lowest index.

#include <chrono>
#include <iostream>

#include <torch/torch.h>

#include "core/codebook/e8_shell/e8_codebook.h"
#include "core/codebook/e8_shell/e8_lattice.h"
#include "kernels/cpu/e8_search_impl.h"
#include "tests/support/test.h"

using namespace glq::codebook;

namespace {

void check_against_bruteforce(const torch::Tensor& x, int64_t size, const char* what) {
    const torch::Tensor fast = e8_nearest(x, size);
    const torch::Tensor ref = e8_nearest_bruteforce(x, size);
    CHECK_EQ(fast.size(0), x.size(0));
    CHECK(fast.scalar_type() == torch::kInt64);
    const torch::Tensor bad = fast.ne(ref).nonzero();
    if (bad.size(0) > 0) {
        const int64_t i = bad[0][0].item<int64_t>();
        std::ostringstream ss;
        ss << what << " (size " << size << "): " << bad.size(0) << " of " << x.size(0) << " differ; first row " << i
           << " x=" << x[i] << " fast=" << fast[i].item<int64_t>() << " ref=" << ref[i].item<int64_t>();
        glq::test::fail(ss.str(), __FILE__, __LINE__);
    }
    CHECK(fast.min().item<int64_t>() >= 0);
    CHECK(fast.max().item<int64_t>() < size);
}

torch::Generator gen(uint64_t seed) {
    auto g = at::detail::createCPUGenerator(seed);
    return g;
}

} // namespace

GLQ_TEST(random_gaussian_inputs_match_bruteforce_full_codebook) {
    for (double sigma : {0.5, 1.0, 2.0}) {
        const torch::Tensor x = torch::randn({3000, 8}, gen(1000 + static_cast<uint64_t>(sigma * 10))) * sigma;
        check_against_bruteforce(x, kE8CodebookSize, "gaussian");
    }
}

GLQ_TEST(random_gaussian_inputs_match_bruteforce_small_codebook) {
    for (double sigma : {0.3, 1.0, 2.0}) {
        const torch::Tensor x = torch::randn({20000, 8}, gen(2000 + static_cast<uint64_t>(sigma * 10))) * sigma;
        check_against_bruteforce(x, kE8SmallCodebookSize, "gaussian");
    }
    const torch::Tensor x = torch::randn({2000, 8}, gen(7)) * 1.2;
    check_against_bruteforce(x, 4096, "gaussian");  // the reference's --codebook-size prefix
}

GLQ_TEST(points_far_outside_the_codebook) {
    torch::Tensor x = torch::randn({2000, 8}, gen(3));
    x = x / x.norm(2, 1, true) * torch::empty({2000, 1}).uniform_(3.6, 40.0, gen(4));
    check_against_bruteforce(x, kE8CodebookSize, "far");
    check_against_bruteforce(x, kE8SmallCodebookSize, "far");
    const torch::Tensor huge = torch::tensor({{1e30f, -1e30f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f}});
    check_against_bruteforce(huge, kE8CodebookSize, "huge");
}

GLQ_TEST(exact_lattice_points_and_midpoints_break_ties_to_the_lowest_index) {
    const torch::Tensor& cb = e8_codebook();
    // Codewords themselves map to their own index.
    const torch::Tensor idx = torch::randint(0, kE8CodebookSize, {3000}, gen(5));
    CHECK(torch::equal(e8_nearest(cb.index_select(0, idx)), idx));
    // Midpoints of random pairs of nearby codewords: exact ties.
    const torch::Tensor a = torch::randint(0, kE8CodebookSize, {1500}, gen(6));
    const torch::Tensor roots = torch::randint(1, 241, {1500}, gen(8));
    const torch::Tensor mid = cb.index_select(0, a) + 0.5 * cb.index_select(0, roots);
    check_against_bruteforce(mid, kE8CodebookSize, "midpoints");
    check_against_bruteforce(mid, kE8SmallCodebookSize, "midpoints");
    // Deep holes and other half-lattice points: many equidistant codewords.
    const torch::Tensor holes = torch::randint(-8, 9, {1500, 8}, gen(9)).to(torch::kFloat32) * 0.25;
    check_against_bruteforce(holes, kE8CodebookSize, "quarter grid");
    check_against_bruteforce(holes, kE8SmallCodebookSize, "quarter grid");
    // Lattice points beyond the truncated shells (norm² 12 left out, 14, 16).
    const torch::Tensor outer = torch::tensor({{4.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f},
                                               {2.f, 2.f, 2.f, 2.f, 0.f, 0.f, 0.f, 0.f},
                                               {3.f, 1.f, 1.f, 1.f, 1.f, 1.f, 0.f, 0.f},
                                               {2.5f, 1.5f, 1.5f, 1.5f, 0.5f, 0.5f, 0.5f, 0.5f},
                                               {0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f}});
    check_against_bruteforce(outer, kE8CodebookSize, "outer lattice points");
    CHECK_EQ(e8_nearest(outer)[4].item<int64_t>(), 0);
}

GLQ_TEST(float64_inputs_and_empty_batches) {
    const torch::Tensor x = torch::randn({500, 8}, gen(10), torch::kFloat64);
    check_against_bruteforce(x, kE8CodebookSize, "float64");
    CHECK_EQ(e8_nearest(torch::zeros({0, 8})).size(0), 0);
}

GLQ_TEST(bad_inputs_get_clear_errors) {
    CHECK_THROWS_WITH(e8_nearest(torch::zeros({4, 7})), "expected vectors of shape [N, 8]");
    CHECK_THROWS_WITH(e8_nearest(torch::zeros({4, 8}, torch::kInt32)), "floating-point");
    torch::Tensor nan = torch::zeros({2, 8});
    nan[1][3] = std::numeric_limits<float>::quiet_NaN();
    CHECK_THROWS_WITH(e8_nearest(nan), "NaN");
    CHECK_THROWS_WITH(e8_nearest(torch::zeros({2, 8}), 0), "outside 1..65536");
}

// Not a pass/fail check of speed: reports how often the decoder alone
// suffices at LDLQ's scale, and the CPU throughput.
GLQ_TEST(report_decoder_hit_rate_and_throughput) {
    const auto& tables = e8_search_tables(kE8CodebookSize, torch::kCPU);
    glq::kernels::e8::SearchView v{};
    v.packed = reinterpret_cast<const uint32_t*>(tables.packed.data_ptr<int32_t>());
    v.keys = reinterpret_cast<const uint32_t*>(tables.keys.data_ptr<int32_t>());
    v.key_rows = tables.key_rows.data_ptr<int32_t>();
    v.size = static_cast<int32_t>(tables.size);
    for (double sigma : {0.5, 1.0, 1.5}) {
        const torch::Tensor x = (torch::randn({200000, 8}, gen(11)) * sigma).to(torch::kFloat64);
        const double* p = x.data_ptr<double>();
        int64_t direct = 0;
        for (int64_t i = 0; i < x.size(0); ++i) {
            int c2[8];
            bool tie = false;
            uint32_t key;
            if (glq::kernels::e8::decode_e8(p + 8 * i, c2, &tie) && !tie && glq::kernels::e8::pack_c2(c2, &key) &&
                glq::kernels::e8::lookup(v, key) >= 0)
                ++direct;
        }
        const torch::Tensor xf = x.to(torch::kFloat32);
        e8_nearest(xf.slice(0, 0, 1000));
        const auto t0 = std::chrono::steady_clock::now();
        const torch::Tensor out = e8_nearest(xf);
        const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        std::cout << "  sigma " << sigma << ": decoder alone " << 100.0 * direct / x.size(0) << "% of vectors, "
                  << x.size(0) / s << " vectors/s on " << at::get_num_threads() << " threads\n";
        CHECK_EQ(out.size(0), x.size(0));
    }
}
