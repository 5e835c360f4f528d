// Calibration windows: seeded, non-overlapping where the text allows, the
// bundled gzip corpus equals the plain text, short texts are refused clearly.

#include <torch/torch.h>

#include <algorithm>
#include <fstream>
#include <set>

#include "core/common/atomic_file.h"
#include "core/io/tokenizer.h"
#include "core/quant/calibration.h"
#include "tests/support/test.h"

using namespace glq::quant;
namespace fs = std::filesystem;

namespace {

glq::io::Tokenizer stories_tokenizer() {
    return glq::io::Tokenizer::load(glq::test::shared_data() / "models/stories260K/tokenizer.json");
}

// The first 20,000 characters of tinyshakespeare, written to `file`.
std::string shakespeare_prefix(const fs::path& file) {
    const std::string text = glq::read_file(glq::test::shared_data() / "tinyshakespeare/input.txt").substr(0, 20000);
    glq::write_file_atomic(file, text);
    return text;
}

} // namespace

GLQ_TEST(windows_are_seeded_distinct_slots) {
    bool overlap = true;
    const auto a = draw_window_starts(10000, 16, 512, 7, &overlap);
    CHECK(!overlap);
    CHECK_EQ(a.size(), size_t(16));
    CHECK(a == draw_window_starts(10000, 16, 512, 7));
    CHECK(a != draw_window_starts(10000, 16, 512, 8));
    std::set<int64_t> seen;
    for (int64_t s : a) {
        CHECK_EQ(s % 512, int64_t(0));
        CHECK(s + 512 <= 10000);
        seen.insert(s);
    }
    CHECK_EQ(seen.size(), size_t(16));
}

GLQ_TEST(short_text_overlaps_and_says_so) {
    bool overlap = false;
    const auto a = draw_window_starts(1000, 5, 300, 1, &overlap);
    CHECK(overlap);
    CHECK_EQ(a.size(), size_t(5));
    for (int64_t s : a) CHECK(s >= 0 && s + 300 <= 1000);
    CHECK_THROWS_WITH(draw_window_starts(100, 1, 300, 1), "300");
}

GLQ_TEST(bundled_corpus_is_the_brown_text) {
    const fs::path gz = glq::test::env("GLQ_SOURCE_DIR").empty()
                            ? fs::path("resources/calibration/brown.txt.gz")
                            : fs::path(glq::test::env("GLQ_SOURCE_DIR")) / "resources/calibration/brown.txt.gz";
    const std::string text = read_calibration_text(gz);
    CHECK(text == glq::read_file(glq::test::shared_data() / "brown/brown.txt"));
}

GLQ_TEST(windows_hold_the_tokens_of_the_text) {
    const auto tok = stories_tokenizer();
    const fs::path file = glq::test::temp_dir() / "calib.txt";
    const std::string text = shakespeare_prefix(file);
    CalibrationOptions o;
    o.files = {file};
    o.nsamples = 4;
    o.seqlen = 64;
    o.seed = 3;
    const CalibrationData d = load_calibration(o, tok);
    const std::vector<int32_t> all = tok.encode(text, false);
    CHECK_EQ(d.total_tokens, static_cast<int64_t>(all.size()));
    CHECK_EQ(d.ids.size(0), int64_t(4));
    CHECK_EQ(d.ids.size(1), int64_t(64));
    for (int64_t s = 0; s < 4; ++s)
        for (int64_t t = 0; t < 64; ++t)
            CHECK_EQ(d.ids[s][t].item<int64_t>(), int64_t(all[static_cast<size_t>(d.starts[s] + t)]));
    CHECK(!d.overlapping);
}

GLQ_TEST(contiguous_windows_are_the_first_tokens_in_order) {
    const auto tok = stories_tokenizer();
    const fs::path file = glq::test::temp_dir() / "calib.txt";
    const std::string text = shakespeare_prefix(file);
    CalibrationOptions o;
    o.files = {file};
    o.nsamples = 5;
    o.seqlen = 64;
    o.contiguous = true;
    o.seed = 9;  // unused
    const CalibrationData d = load_calibration(o, tok);
    const std::vector<int32_t> all = tok.encode(text, false);
    for (int64_t i = 0; i < 5 * 64; ++i) CHECK_EQ(d.ids.reshape({-1})[i].item<int64_t>(), int64_t(all[size_t(i)]));
    CHECK(glq::test::contains(d.description, "the first tokens, in order"));
    o.seed = 10;
    CHECK(torch::equal(load_calibration(o, tok).ids, d.ids));
    // More windows than the text holds end to end: refused, naming the file.
    o.nsamples = static_cast<int64_t>(all.size()) / 64 + 1;
    CHECK_THROWS_WITH(load_calibration(o, tok), "too short for contiguous windows");
    CHECK_THROWS_WITH(load_calibration(o, tok), file.string());
}

GLQ_TEST(text_shorter_than_one_window_is_refused) {
    const fs::path model = glq::test::shared_data() / "models/stories260K";
    const auto tok = glq::io::Tokenizer::load(model / "tokenizer.json");
    const fs::path file = glq::test::temp_dir() / "tiny.txt";
    glq::write_file_atomic(file, "Once upon a time.");
    CalibrationOptions o;
    o.files = {file};
    o.nsamples = 2;
    o.seqlen = 512;
    CHECK_THROWS_WITH(load_calibration(o, tok), "tiny.txt");
    CHECK_THROWS_WITH(load_calibration(o, tok), "one window needs seqlen = 512");
    o.files = {glq::test::temp_dir() / "missing.txt"};
    CHECK_THROWS_WITH(load_calibration(o, tok), "not found");
    const fs::path bad = glq::test::temp_dir() / "bad.gz";
    glq::write_file_atomic(bad, std::string("\x1f\x8b\x08\x00garbage-not-deflate", 23));
    o.files = {bad};
    CHECK_THROWS_WITH(load_calibration(o, tok), "bad.gz");
}
