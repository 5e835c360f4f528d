// CUDA E8 nearest-codeword search vs the CPU search (and the GPU brute
// force) on fresh random inputs, far points and exact ties. Skips without a
// CUDA device.

#include <chrono>
#include <iostream>

#include <torch/torch.h>

#include "core/codebook/e8_shell/e8_codebook.h"
#include "tests/support/require_cuda.h"
#include "tests/support/test.h"

using namespace glq::codebook;

namespace {

void check_same(const torch::Tensor& x_cpu, int64_t size, const char* what) {
    const torch::Tensor cpu = e8_nearest(x_cpu, size);
    const torch::Tensor gpu = e8_nearest(x_cpu.to(torch::kCUDA), size);
    CHECK(gpu.is_cuda());
    const int64_t differ = gpu.cpu().ne(cpu).sum().item<int64_t>();
    CHECK_MSG(differ == 0, what << " (size " << size << "): " << differ << " of " << x_cpu.size(0) << " differ");
}

} // namespace

GLQ_TEST(gpu_matches_cpu_on_random_inputs) {
    glq::test::require_cuda();
    for (double sigma : {0.5, 1.0, 2.0, 6.0}) {
        const torch::Tensor x = torch::randn({200000, 8}) * sigma;
        check_same(x, kE8CodebookSize, "gaussian");
        check_same(x, kE8SmallCodebookSize, "gaussian");
    }
}

GLQ_TEST(gpu_matches_gpu_bruteforce_and_ties) {
    glq::test::require_cuda();
    const torch::Tensor x = torch::randn({20000, 8}, torch::kCUDA) * 1.3;
    CHECK(torch::equal(e8_nearest(x), e8_nearest_bruteforce(x)));
    const torch::Tensor& cb = e8_codebook();
    const torch::Tensor mid = cb.index_select(0, torch::randint(0, kE8CodebookSize, {20000})) +
                              0.5 * cb.index_select(0, torch::randint(1, 241, {20000}));
    check_same(mid, kE8CodebookSize, "midpoints");
    const torch::Tensor grid = torch::randint(-12, 13, {20000, 8}).to(torch::kFloat32) * 0.25;
    check_same(grid, kE8CodebookSize, "quarter grid");
    check_same(grid, kE8SmallCodebookSize, "quarter grid");
    const torch::Tensor xd = grid.to(torch::kCUDA);
    CHECK(torch::equal(e8_nearest(xd, kE8SmallCodebookSize), e8_nearest_bruteforce(xd, kE8SmallCodebookSize)));
}

GLQ_TEST(gpu_throughput_report) {
    glq::test::require_cuda();
    const torch::Tensor x = torch::randn({1 << 22, 8}, torch::kCUDA);
    e8_nearest(x.slice(0, 0, 1024));
    torch::cuda::synchronize();
    const auto t0 = std::chrono::steady_clock::now();
    const torch::Tensor idx = e8_nearest(x);
    torch::cuda::synchronize();
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::cout << "  " << x.size(0) / s / 1e6 << " M vectors/s (N(0,1), full codebook)\n";
    CHECK_EQ(idx.size(0), x.size(0));
}
