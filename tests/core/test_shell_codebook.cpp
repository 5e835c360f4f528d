// The E8 shell codebook behind the codebook seam: its residual-stage recipes,
// the paired residual scale, and the interface's answers (strip width, rates,
// shape rule, code bytes, the encode of one strip).

#include <torch/torch.h>

#include <algorithm>

#include "core/codebook/codebook.h"
#include "core/codebook/e8_shell/e8_codebook.h"
#include "core/codebook/e8_shell/shell_codebook.h"
#include "tests/support/test.h"

using namespace glq::codebook;

GLQ_TEST(recipes_match_the_reference_bit_rates) {
    const std::vector<std::vector<int64_t>> sizes = {
        {65536}, {65536, 256}, {65536, 65536}, {65536, 65536, 256},
        {65536, 65536, 65536}, {65536, 65536, 65536, 256}, {65536, 65536, 65536, 65536}};
    for (int bpw = 2; bpw <= 8; ++bpw) {
        const ShellRecipe r = shell_recipe(bpw);
        CHECK_EQ(r.codebook_sizes, sizes[bpw - 2]);
        // Bits: 16 per full stage, 8 per small stage, per 8 weights.
        int64_t bits = 0;
        for (int64_t s : r.codebook_sizes) bits += s == 65536 ? 16 : 8;
        CHECK_EQ(bits, 8 * bpw);
        CHECK_EQ(r.stage_weights.size(), r.codebook_sizes.size());
        CHECK_EQ(r.stage_weights[0], 1.0f);
        for (size_t s = 1; s < r.stage_weights.size(); ++s) {
            const double rs = r.resid_scales[s - 1];
            CHECK_NEAR(r.stage_weights[s], r.stage_weights[s - 1] / rs, 1e-6 * r.stage_weights[s]);
            if (r.codebook_sizes[s] == 65536) CHECK_EQ(rs, 3.0);
        }
    }
    CHECK_THROWS_WITH(shell_recipe(9), "2..8");
    CHECK_THROWS_WITH(shell_recipe(1), "2..8");
}

GLQ_TEST(paired_residual_scale_is_on_the_grid_and_reproducible) {
    const double rs = paired_resid_scale_full_to_small(0);
    const std::vector<double> grid = {0.5, 1, 2, 3, 5, 7, 10, 15, 20, 30};
    CHECK(std::find(grid.begin(), grid.end(), rs) != grid.end());
    CHECK_EQ(paired_resid_scale_full_to_small(0), rs);
    // The 256-entry table is much coarser than the residual's natural scale:
    // the optimum must enlarge the residual, not shrink it.
    CHECK(rs > 1.0);
}

GLQ_TEST(the_interface_describes_the_e8_shell_codebook) {
    const Codebook& cb = codebook_of(CodebookKind::E8Shell);
    CHECK_EQ(std::string(cb.name()), "e8_shell");
    CHECK_EQ(cb.block_width(), 8);
    CHECK_EQ(cb.row_group(), 1);
    CHECK_EQ(cb.min_bpw(), 2);
    CHECK_EQ(cb.max_bpw(), 8);
    CHECK_THROWS_WITH(cb.check_bpw(9, "p"), "p: bpw 9: the e8_shell codebook supports 2..8");
    CHECK_THROWS_WITH(cb.check_shape(16, 12, "p"), "not a multiple of 8");
    cb.check_shape(16, 24, "p");
    // Stages x rows x groups x 2 bytes: 3 bpw has a 16-bit and an 8-bit stage, both stored as int16.
    CHECK_EQ(cb.code_bytes(16, 64, 3), 2u * 16u * 8u * 2u);
    CHECK(parse_codebook("trellis", "x") == CodebookKind::Trellis);
    CHECK_THROWS_WITH(parse_codebook("e8p", "config.json"), "config.json: codebook \"e8p\" is not one this build knows");
}

GLQ_TEST(a_strip_encodes_through_every_stage_as_nearest_codewords) {
    torch::manual_seed(5);
    const Codebook& cb = e8_shell_codebook();
    const auto enc = cb.encoder(5, torch::kCPU);
    const ShellRecipe r = shell_recipe(5);
    const torch::Tensor target = torch::randn({40, 8});
    const StripCodes sc = enc->encode(target);
    CHECK_EQ(sc.codes.size(), 3u);
    // Stage by stage: nearest codeword of the scaled residual.
    torch::Tensor in = target, recon;
    const torch::Tensor& table = e8_codebook();
    for (size_t s = 0; s < 3; ++s) {
        const torch::Tensor idx = e8_nearest(in, r.codebook_sizes[s]);
        CHECK(torch::equal(sc.codes[s], idx));
        const torch::Tensor dec = table.index_select(0, idx);
        recon = s == 0 ? dec.clone() : recon + r.stage_weights[s] * dec;
        if (s + 1 < 3) in = (in - dec) * r.resid_scales[s];
    }
    CHECK(torch::allclose(sc.recon, recon, 0, 1e-6));
    // Assembled strips are the [m, n/8] indices; their decode is the format's.
    const torch::Tensor layer = enc->assemble({sc.codes[0], sc.codes[0]}, 40, 16);
    CHECK_EQ(layer.sizes().vec(), (std::vector<int64_t>{40, 2}));
    CHECK(torch::equal(layer.select(1, 1), sc.codes[0]));
    CHECK_THROWS_WITH(enc->assemble({sc.codes[0]}, 40, 16), "1 strips for 16 columns");
}
