// Dequantization vs the gguf Python package: tests/data/gguf/dequant.gguf
// (written by tests/python/gen_gguf_fixtures.py) holds, for every supported
// ggml type, quantized blocks and gguf.quants.dequantize's float32 output.
// Ours must equal it bit for bit.

#include <bit>
#include <cstring>
#include <string>
#include <vector>

#include "core/io/gguf.h"
#include "core/io/gguf_dequant.h"
#include "tests/support/test.h"

using namespace glq::io;

namespace {

std::shared_ptr<const GgufFile> fixture() { return GgufFile::open(glq::test::test_data() / "gguf/dequant.gguf"); }

void check_bit_exact(GgmlType type) {
    auto f = fixture();
    const std::string name = ggml_type_name(type);
    const GgufTensorInfo* q = f->find_tensor(name);
    const GgufTensorInfo* expected = f->find_tensor(name + ".expected");
    CHECK_MSG(q && expected, "fixture lacks " << name);
    CHECK_EQ(q->type, type);
    CHECK_EQ(expected->type, GgmlType::F32);
    CHECK_EQ(q->shape(), expected->shape());
    CHECK(can_dequantize(type));

    std::vector<float> out(static_cast<std::size_t>(q->numel()));
    dequantize(type, f->tensor_data(*q), out);
    std::vector<uint32_t> want(out.size());
    std::memcpy(want.data(), f->tensor_data(*expected).data(), want.size() * 4);
    std::size_t mismatches = 0, first = 0;
    for (std::size_t i = 0; i < out.size(); ++i) {
        if (std::bit_cast<uint32_t>(out[i]) != want[i]) {
            if (mismatches++ == 0) first = i;
        }
    }
    CHECK_MSG(mismatches == 0, name << ": " << mismatches << " of " << out.size() << " values differ; first at " << first
                                    << ": " << out[first] << " vs " << std::bit_cast<float>(want[first]));
}

} // namespace

GLQ_TEST(f32_matches_gguf_package) { check_bit_exact(GgmlType::F32); }
GLQ_TEST(f16_matches_gguf_package) { check_bit_exact(GgmlType::F16); }
GLQ_TEST(bf16_matches_gguf_package) { check_bit_exact(GgmlType::BF16); }
GLQ_TEST(q8_0_matches_gguf_package) { check_bit_exact(GgmlType::Q8_0); }
GLQ_TEST(q4_0_matches_gguf_package) { check_bit_exact(GgmlType::Q4_0); }
GLQ_TEST(q4_1_matches_gguf_package) { check_bit_exact(GgmlType::Q4_1); }
GLQ_TEST(q5_0_matches_gguf_package) { check_bit_exact(GgmlType::Q5_0); }
GLQ_TEST(q5_1_matches_gguf_package) { check_bit_exact(GgmlType::Q5_1); }
GLQ_TEST(q4_k_matches_gguf_package) { check_bit_exact(GgmlType::Q4_K); }
GLQ_TEST(q5_k_matches_gguf_package) { check_bit_exact(GgmlType::Q5_K); }
GLQ_TEST(q6_k_matches_gguf_package) { check_bit_exact(GgmlType::Q6_K); }

GLQ_TEST(fixture_covers_every_supported_type_and_nothing_else) {
    auto f = fixture();
    int pairs = 0;
    for (const auto& t : f->tensors()) {
        if (t.name.ends_with(".expected")) continue;
        CHECK_MSG(can_dequantize(t.type), t.name);
        CHECK(f->find_tensor(t.name + ".expected") != nullptr);
        ++pairs;
    }
    CHECK_EQ(pairs, 11);
}

GLQ_TEST(rejects_unsupported_types_and_wrong_sizes) {
    CHECK(!can_dequantize(GgmlType::Q2_K));
    CHECK(!can_dequantize(GgmlType::IQ2_XXS));
    std::vector<std::byte> src(84);
    std::vector<float> dst(256);
    CHECK_THROWS_WITH(dequantize(GgmlType::Q2_K, src, dst), "ggml type Q2_K is not supported");
    std::vector<std::byte> q4(18 * 2 - 1);
    std::vector<float> out(64);
    CHECK_THROWS_WITH(dequantize(GgmlType::Q4_0, q4, out), "Q4_0 data of 35 bytes for 64 elements (expected 36)");
    std::vector<float> ragged(40);
    CHECK_THROWS_WITH(dequantize(GgmlType::Q4_0, q4, ragged), "40 elements are not a whole number of Q4_0 blocks of 32");
    CHECK_EQ(ggml_nbytes(GgmlType::Q6_K, 512), 420u);
}
