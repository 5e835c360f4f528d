// RoPE frequencies (default, linear, llama3) against the formulas written out
// directly, and apply_rope against rotate_half by hand.

#include <cmath>
#include <numbers>

#include <torch/torch.h>

#include "core/model/rope.h"
#include "tests/support/test.h"

using namespace glq;
using namespace glq::model;

GLQ_TEST(default_and_linear_frequencies) {
    io::RopeScaling s;
    const torch::Tensor f = rope_inv_freq(64, 10000.0, s);
    CHECK_EQ(f.size(0), 32);
    for (int i = 0; i < 32; ++i) CHECK_NEAR(f[i].item<double>(), std::pow(10000.0, -2.0 * i / 64), 1e-6);
    s.type = "linear";
    s.factor = 4;
    const torch::Tensor g = rope_inv_freq(64, 10000.0, s);
    for (int i = 0; i < 32; ++i) CHECK_NEAR(g[i].item<double>(), std::pow(10000.0, -2.0 * i / 64) / 4, 1e-6);
    s.type = "yarn";
    CHECK_THROWS_WITH(rope_inv_freq(64, 10000.0, s), "unsupported rope type 'yarn'");
    CHECK_THROWS_WITH(rope_inv_freq(63, 10000.0, io::RopeScaling{}), "even");
}

GLQ_TEST(llama3_frequencies) {
    io::RopeScaling s;
    s.type = "llama3";
    s.factor = 32;
    s.low_freq_factor = 1;
    s.high_freq_factor = 4;
    s.original_max_position_embeddings = 8192;
    const torch::Tensor f = rope_inv_freq(64, 500000.0, s);
    for (int i = 0; i < 32; ++i) {
        const double base = std::pow(500000.0, -2.0 * i / 64);
        const double wavelen = 2 * std::numbers::pi / base;
        double expected;
        if (wavelen < 8192.0 / 4) expected = base;           // high frequency: unchanged
        else if (wavelen > 8192.0 / 1) expected = base / 32;  // low frequency: divided by the factor
        else {
            const double smooth = (8192.0 / wavelen - 1) / (4 - 1);
            expected = (1 - smooth) * base / 32 + smooth * base;
        }
        CHECK_MSG(std::fabs(f[i].item<double>() - expected) <= 1e-6 * expected, "frequency " << i);
    }
}

GLQ_TEST(apply_rope_rotates_halves) {
    const torch::Tensor inv = rope_inv_freq(8, 10000.0, io::RopeScaling{});
    RopeTable table(inv, torch::kFloat32, torch::kCPU, 16);
    const torch::Tensor x = torch::randn({1, 2, 16, 8});
    const torch::Tensor y = apply_rope(x, table.cos(), table.sin());
    for (int p : {0, 5, 15})
        for (int j = 0; j < 4; ++j) {
            const double angle = p * inv[j].item<double>();
            const double a = x[0][1][p][j].item<double>(), b = x[0][1][p][j + 4].item<double>();
            CHECK_NEAR(y[0][1][p][j].item<double>(), a * std::cos(angle) - b * std::sin(angle), 1e-5);
            CHECK_NEAR(y[0][1][p][j + 4].item<double>(), b * std::cos(angle) + a * std::sin(angle), 1e-5);
        }
}
