// Tokenizer against HF `tokenizers`: ids and decodes of every golden string
// (tests/data/tokenizer, written by tests/python/gen_tokenizer_goldens.py)
// for SmolLM2, Qwen3, GPT-2, stories260K and variants that swap in the
// Llama-3 regex, Metaspace, and the remaining normalizers / pre-tokenizers;
// the split patterns alone; all of wiki.test.raw (count, hash, time);
// streaming decode; and one clear error for each kind of bad file.

#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "core/common/atomic_file.h"
#include "core/common/error.h"
#include "core/io/tokenizer.h"
#include "core/io/tokenizer_split_patterns.h"
#include "core/io/unicode.h"
#include "tests/support/test.h"

namespace fs = std::filesystem;
using glq::io::Tokenizer;
using nlohmann::json;

namespace {

json read_json(const fs::path& p) { return json::parse(glq::read_file(p)); }

const json& texts_file() {
    static const json j = read_json(glq::test::test_data() / "tokenizer" / "texts.json");
    return j;
}
const json& texts() { return texts_file()["texts"]; }

uint64_t fnv1a(const void* data, std::size_t n, uint64_t h = 0xCBF29CE484222325ull) {
    const auto* p = static_cast<const unsigned char*>(data);
    for (std::size_t i = 0; i < n; ++i) {
        h ^= p[i];
        h *= 0x100000001B3ull;
    }
    return h;
}
std::string hex(uint64_t h) {
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
    return buf;
}
std::string ids_hash(const std::vector<int32_t>& ids) {
    uint64_t h = 0xCBF29CE484222325ull;
    for (int32_t id : ids) {
        const auto u = static_cast<uint32_t>(id);
        const unsigned char le[4] = {static_cast<unsigned char>(u), static_cast<unsigned char>(u >> 8),
                                     static_cast<unsigned char>(u >> 16), static_cast<unsigned char>(u >> 24)};
        h = fnv1a(le, 4, h);
    }
    return hex(h);
}

std::string show_ids(const std::vector<int32_t>& ids) {
    std::string s = "[";
    for (std::size_t i = 0; i < ids.size(); ++i) {
        if (i) s += ',';
        s += std::to_string(ids[i]);
    }
    s += ']';
    return s;
}

struct Golden {
    json golden;
    Tokenizer tok;
};

// The golden and its tokenizer, with the golden's "overrides" applied to the file.
Golden load_golden(const std::string& name) {
    json g = read_json(glq::test::test_data() / "tokenizer" / ("golden_" + name + ".json"));
    const fs::path file = glq::test::shared_data() / g["tokenizer"].get<std::string>();
    if (g["overrides"].is_null()) return {std::move(g), Tokenizer::load(file)};
    json t = read_json(file);
    for (auto it = g["overrides"].begin(); it != g["overrides"].end(); ++it) t[it.key()] = it.value();
    return {std::move(g), Tokenizer::from_json_string(t.dump(), file.string() + " (" + name + " variant)")};
}

// decode(...) as stored: absent = the text itself; a string; or a hash.
void check_decoded(const json& stored, std::size_t i, const std::string& got, const std::string& text,
                   const std::string& what) {
    const std::string key = std::to_string(i);
    if (!stored.contains(key)) {
        CHECK_MSG(got == text, what << " text #" << i << ": decode gave \"" << got << "\", HF gave the text \""
                                    << text << "\"");
    } else if (stored[key].is_string()) {
        CHECK_MSG(got == stored[key].get<std::string>(),
                  what << " text #" << i << ": decode gave \"" << got << "\", HF gave \"" << stored[key].get<std::string>() << "\"");
    } else {
        CHECK_MSG(hex(fnv1a(got.data(), got.size())) == stored[key]["fnv1a64"].get<std::string>(),
                  what << " text #" << i << ": decode \"" << got << "\" differs from HF's (hash)");
    }
}

void check_golden(const std::string& name) {
    const Golden g = load_golden(name);
    const json& all = texts();
    const auto first_short = texts_file()["first_short"].get<std::size_t>();
    const json& ids = g.golden["ids"];
    CHECK_EQ(ids.size(), all.size());
    for (std::size_t i = 0; i < all.size(); ++i) {
        const std::string text = all[i].get<std::string>();
        const auto want = ids[i].get<std::vector<int32_t>>();
        const auto got = g.tok.encode(text, false);
        CHECK_MSG(got == want, name << " text #" << i << " \"" << text << "\": " << show_ids(got) << " != HF "
                                    << show_ids(want));
        std::vector<int32_t> want_special = want;
        if (const auto key = std::to_string(i); g.golden["ids_with_special"].contains(key)) {
            const json& ws = g.golden["ids_with_special"][key];
            if (ws.is_object()) {
                want_special = ws["full"].get<std::vector<int32_t>>();
            } else {
                want_special = ws[0].get<std::vector<int32_t>>();
                want_special.insert(want_special.end(), want.begin(), want.end());
                for (const auto& id : ws[1]) want_special.push_back(id.get<int32_t>());
            }
        }
        const auto got_special = g.tok.encode(text, true);
        CHECK_MSG(got_special == want_special, name << " text #" << i << " with special tokens: "
                                                    << show_ids(got_special) << " != HF " << show_ids(want_special));
        check_decoded(g.golden["decoded"], i, g.tok.decode(want, false), text, name);
        if (i >= first_short) {
            check_decoded(g.golden["decoded_with_special"], i, g.tok.decode(want_special, false), text,
                          name + " (with special)");
            check_decoded(g.golden["decoded_with_special_skip"], i, g.tok.decode(want_special, true), text,
                          name + " (with special, skipped)");
        }
    }
}

// Streams every golden sequence through StreamDecoder: the pieces are each
// valid UTF-8 and concatenate to decode(all).
void check_stream(const std::string& name) {
    const Golden g = load_golden(name);
    std::size_t sequences = 0;
    for (const auto& seq : g.golden["ids"]) {
        const auto ids = seq.get<std::vector<int32_t>>();
        for (bool skip : {false, true}) {
            Tokenizer::StreamDecoder stream(g.tok, skip);
            std::string joined;
            for (int32_t id : ids) {
                const std::string piece = stream.push(id);
                CHECK_MSG(glq::io::unicode::utf8_lossy(piece) == piece, name << ": stream piece is not valid UTF-8");
                joined += piece;
            }
            joined += stream.flush();
            CHECK_MSG(joined == g.tok.decode(ids, skip),
                      name << " sequence #" << sequences << ": streamed \"" << joined << "\" != decode \""
                           << g.tok.decode(ids, skip) << "\"");
        }
        ++sequences;
    }
    CHECK(sequences > 500);
}

// All of wiki.test.raw at once: HF's count and hash of the ids, and the time.
void check_wiki(const std::string& name) {
    const Golden g = load_golden(name);
    const std::string wiki = glq::read_file(glq::test::shared_data() / "wikitext-2-raw" / "wiki.test.raw");
    const auto t0 = std::chrono::steady_clock::now();
    const auto ids = g.tok.encode(wiki, false);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("  %s: wiki.test.raw (%zu bytes) -> %zu ids in %.3f s\n", name.c_str(), wiki.size(), ids.size(), seconds);
    CHECK_EQ(ids.size(), g.golden["wiki_test_raw"]["count"].get<std::size_t>());
    CHECK_EQ(ids_hash(ids), g.golden["wiki_test_raw"]["fnv1a64"].get<std::string>());
    CHECK_EQ(g.tok.decode(ids), wiki);
}

fs::path write_text(const std::string& name, const std::string& text) {
    const fs::path p = glq::test::temp_dir() / name;
    std::ofstream(p, std::ios::binary) << text;
    return p;
}

// A small valid tokenizer.json with one component replaced.
json tiny_tokenizer() {
    return json::parse(R"({
      "version": "1.0", "added_tokens": [], "normalizer": null, "pre_tokenizer": null,
      "post_processor": null, "decoder": null,
      "model": {"type": "BPE", "dropout": null, "unk_token": null, "fuse_unk": false, "byte_fallback": false,
                "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b"]}})");
}

void check_load_error(const std::string& file_name, const json& j, const std::string& problem) {
    const fs::path p = write_text(file_name, j.dump());
    CHECK_THROWS_WITH(Tokenizer::load(p), p.string());
    CHECK_THROWS_WITH(Tokenizer::load(p), problem);
}

} // namespace

GLQ_TEST(smollm2_matches_hf) { check_golden("smollm2"); }
GLQ_TEST(qwen3_matches_hf) { check_golden("qwen3"); }
GLQ_TEST(gpt2_matches_hf) { check_golden("gpt2"); }
GLQ_TEST(stories260k_matches_hf) { check_golden("stories260k"); }
GLQ_TEST(llama3_regex_on_gpt2_vocab_matches_hf) { check_golden("llama3regex"); }
GLQ_TEST(metaspace_variant_matches_hf) { check_golden("metaspace"); }
GLQ_TEST(normalizers_pretokenizers_added_tokens_variant_matches_hf) { check_golden("pieces"); }

GLQ_TEST(split_patterns_match_hf_regexes) {
    const json splits = read_json(glq::test::test_data() / "tokenizer" / "split_patterns.json");
    const auto first_short = texts_file()["first_short"].get<std::size_t>();
    for (auto it = splits.begin(); it != splits.end(); ++it) {
        const auto pattern = glq::io::recognise_split_pattern(it.value()["regex"].get<std::string>());
        CHECK_MSG(pattern.has_value(), "pattern " << it.key() << " not recognised");
        const json& pieces = it.value()["pieces"];
        CHECK_EQ(first_short + pieces.size(), texts().size());
        CHECK(pieces.size() > 100);
        for (std::size_t k = 0; k < pieces.size(); ++k) {
            const std::string text = texts()[first_short + k].get<std::string>();
            const std::u32string cps = glq::io::unicode::to_u32(text);
            std::vector<std::string> got;
            for (const auto& [b, e] : glq::io::find_split_matches(*pattern, cps))
                got.push_back(glq::io::unicode::to_utf8(std::u32string_view(cps).substr(b, e - b)));
            CHECK_MSG(got == pieces[k].get<std::vector<std::string>>(),
                      it.key() << " pattern, text \"" << text << "\": split differs from HF");
        }
    }
}

GLQ_TEST(nfc_and_lowercase_match_python_unicodedata) {
    const json j = read_json(glq::test::test_data() / "tokenizer" / "normalization.json");
    CHECK_EQ(j["unicode_version"].get<std::string>(), std::string(glq::io::unicode::normalization_unicode_version()));
    CHECK(j["nfc"].size() > 2000);
    for (const auto& c : j["nfc"]) {
        const std::string src = c[0].get<std::string>();
        CHECK_MSG(glq::io::unicode::nfc(src) == c[1].get<std::string>(), "NFC of \"" << src << "\"");
    }
    CHECK(j["lowercase"].size() > 1000);
    for (const auto& c : j["lowercase"]) {
        const std::string src = c[0].get<std::string>();
        CHECK_MSG(glq::io::unicode::lowercase(src) == c[1].get<std::string>(), "lowercase of \"" << src << "\"");
    }
}

// llama.cpp's own vectors (an independent reference): inputs separated by
// "\n__ggml_vocab_test__\n", expected ids one line each.
void check_llamacpp_vectors(const std::string& vocab, const std::string& tokenizer) {
    const fs::path dir = glq::test::shared_data() / "tokenizers" / "llamacpp-vectors";
    const std::string inp = glq::read_file(dir / ("ggml-vocab-" + vocab + ".gguf.inp"));
    std::vector<std::string> inputs;
    const std::string sep = "\n__ggml_vocab_test__\n";
    for (std::size_t pos = 0;;) {
        const std::size_t hit = inp.find(sep, pos);
        if (hit == std::string::npos) break;
        inputs.push_back(inp.substr(pos, hit - pos));
        pos = hit + sep.size();
    }
    std::ifstream out(dir / ("ggml-vocab-" + vocab + ".gguf.out"));
    const Tokenizer tok = Tokenizer::load(glq::test::shared_data() / "tokenizers" / tokenizer / "tokenizer.json");
    std::string line;
    std::size_t n = 0;
    for (; std::getline(out, line) && n < inputs.size(); ++n) {
        std::vector<int32_t> want;
        std::istringstream ss(line);
        for (int32_t id; ss >> id;) want.push_back(id);
        CHECK_MSG(tok.encode(inputs[n]) == want, vocab << " vector #" << n << " \"" << inputs[n] << "\": "
                                                       << show_ids(tok.encode(inputs[n])) << " != llama.cpp " << show_ids(want));
    }
    CHECK_EQ(n, inputs.size());
    CHECK(n >= 40);
}

GLQ_TEST(llamacpp_vectors_gpt2) { check_llamacpp_vectors("gpt-2", "gpt2"); }
GLQ_TEST(llamacpp_vectors_qwen2) { check_llamacpp_vectors("qwen2", "qwen3"); }

// encode/decode are const and share the word cache: threads must agree with HF too.
GLQ_TEST(concurrent_encodes_match_hf) {
    const Golden g = load_golden("qwen3");
    const json& all = texts();
    std::vector<int> mismatches(4, 0);
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&, t] {
            for (std::size_t i = static_cast<std::size_t>(t); i < all.size(); i += 2)  // overlapping halves
                if (g.tok.encode(all[i].get<std::string>()) != g.golden["ids"][i].get<std::vector<int32_t>>())
                    ++mismatches[static_cast<std::size_t>(t)];
        });
    }
    for (auto& th : threads) th.join();
    CHECK_EQ(mismatches, (std::vector<int>{0, 0, 0, 0}));
}

GLQ_TEST(whole_wiki_test_raw_smollm2) { check_wiki("smollm2"); }
GLQ_TEST(whole_wiki_test_raw_qwen3) { check_wiki("qwen3"); }
GLQ_TEST(whole_wiki_test_raw_stories260k) { check_wiki("stories260k"); }

GLQ_TEST(stream_decode_smollm2) { check_stream("smollm2"); }
GLQ_TEST(stream_decode_qwen3) { check_stream("qwen3"); }
GLQ_TEST(stream_decode_stories260k) { check_stream("stories260k"); }
GLQ_TEST(stream_decode_metaspace) { check_stream("metaspace"); }

GLQ_TEST(stream_decode_holds_back_incomplete_utf8) {
    const Tokenizer tok = Tokenizer::load(glq::test::shared_data() / "models/stories260K/tokenizer.json");
    // "中" is three byte-fallback tokens: nothing may come out before the last.
    const auto ids = tok.encode("a中", false);
    CHECK(ids.size() >= 4);
    Tokenizer::StreamDecoder stream(tok);
    std::string out;
    for (std::size_t i = 0; i < ids.size(); ++i) {
        const std::string piece = stream.push(ids[i]);
        if (i + 1 < ids.size() && i >= ids.size() - 3) CHECK_EQ(piece, std::string());
        out += piece;
    }
    CHECK_EQ(out + stream.flush(), std::string("a中"));
}

GLQ_TEST(vocab_and_special_tokens) {
    const Tokenizer tok = Tokenizer::load(glq::test::shared_data() / "tokenizers/qwen3/tokenizer.json");
    CHECK_EQ(tok.vocab_size(), 151669);
    const std::optional<int32_t> im_start = tok.token_to_id("<|im_start|>");
    CHECK(im_start.has_value());
    CHECK_EQ(*im_start, 151644);
    CHECK(tok.is_special(151644));
    CHECK(!tok.is_special(100));
    CHECK_EQ(tok.id_to_token(151645), std::string("<|im_end|>"));
    const std::optional<int32_t> the = tok.token_to_id("Ġthe");
    CHECK(the.has_value());
    CHECK_EQ(tok.id_to_token(*the), std::string("Ġthe"));
    CHECK(!tok.token_to_id("no such token at all").has_value());
    CHECK_EQ(tok.id_to_token(-5), std::string());
}

GLQ_TEST(missing_file_is_an_error_naming_it) {
    const fs::path p = glq::test::temp_dir() / "nope" / "tokenizer.json";
    CHECK_THROWS_WITH(Tokenizer::load(p), p.string());
}

GLQ_TEST(unreadable_file_is_an_error_naming_it) {
    const fs::path dir = glq::test::temp_dir() / "a_directory.json";
    fs::create_directories(dir);
    CHECK_THROWS_WITH(Tokenizer::load(dir), dir.string());
}

GLQ_TEST(corrupt_json_is_an_error_naming_it) {
    const std::string good = tiny_tokenizer().dump();
    const fs::path p = write_text("truncated.json", good.substr(0, good.size() / 2));
    CHECK_THROWS_WITH(Tokenizer::load(p), p.string());
    CHECK_THROWS_WITH(Tokenizer::load(p), "not valid JSON");
    const fs::path q = write_text("array.json", "[1, 2]");
    CHECK_THROWS_WITH(Tokenizer::load(q), "not a tokenizer.json");
}

GLQ_TEST(unsupported_or_broken_components_are_errors_naming_the_file) {
    json j = tiny_tokenizer();
    j["model"]["type"] = "WordPiece";
    check_load_error("wordpiece.json", j, "\"WordPiece\" is not supported");

    j = tiny_tokenizer();
    j["pre_tokenizer"] = {{"type", "Split"}, {"pattern", {{"Regex", "\\w+|\\d"}}}, {"behavior", "Isolated"}};
    check_load_error("regex.json", j, "is not supported (known: the GPT-2, Llama-3 and Qwen2 patterns)");

    j = tiny_tokenizer();
    j["normalizer"] = {{"type", "Precompiled"}, {"precompiled_charsmap", "AAAA"}};
    check_load_error("precompiled.json", j, "normalizer \"Precompiled\" is not supported");

    j = tiny_tokenizer();
    j["decoder"] = {{"type", "CTC"}};
    check_load_error("ctc.json", j, "decoder \"CTC\" is not supported");

    j = tiny_tokenizer();
    j["model"]["merges"] = json::array({"a c"});
    check_load_error("merge.json", j, "not in the vocab");

    j = tiny_tokenizer();
    j["model"]["merges"] = json::array({"b b"});
    check_load_error("merge_result.json", j, "\"bb\", which is not in the vocab");

    j = tiny_tokenizer();
    j["model"]["vocab"]["a"] = "zero";
    check_load_error("vocab.json", j, "has no valid id");

    j = tiny_tokenizer();
    j["model"]["unk_token"] = "<unk>";
    check_load_error("unk.json", j, "unk_token \"<unk>\" is not in the vocab");

    j = tiny_tokenizer();
    j["post_processor"] = {{"type", "TemplateProcessing"},
                           {"single", json::array({{{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}}})},
                           {"special_tokens", json::object()}};
    check_load_error("template.json", j, "does not define");

    j = tiny_tokenizer();
    j["added_tokens"] = json::array({{{"content", 5}, {"id", "x"}}});
    check_load_error("added.json", j, "malformed tokenizer.json");
}

GLQ_TEST(tiny_bpe_merges_and_decodes) {
    const Tokenizer tok = Tokenizer::from_json_string(tiny_tokenizer().dump(), "tiny");
    CHECK_EQ(tok.encode("abab"), (std::vector<int32_t>{2, 2}));
    CHECK_EQ(tok.encode("ba"), (std::vector<int32_t>{1, 0}));
    CHECK_EQ(tok.decode({2, 0}), std::string("ab a"));  // no decoder: tokens joined by spaces, as HF
    CHECK_EQ(tok.vocab_size(), 3);
}
