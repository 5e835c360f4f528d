// tokenizer.json / tokenizer_config.json from tokenizer.ggml.* metadata.
//
// The pre-tokenizers below are the ones HF's own tokenizer.json files use for
// the model families whose llama.cpp pre-tokenizer name maps to them (the
// regexes in llama.cpp's llama-vocab.cpp for those names are the same
// splits): keep the table and llama.cpp's names in step when adding one.

#include "core/io/gguf_tokenizer.h"

#include <algorithm>
#include <map>
#include <optional>
#include <string_view>
#include <unordered_map>

#include "core/common/error.h"

namespace glq::io {

namespace {

using nlohmann::json;

// llama.cpp token types (llama_token_type / gguf TokenType).
enum TokenType : int64_t { NORMAL = 1, UNKNOWN = 2, CONTROL = 3, USER_DEFINED = 4, UNUSED = 5, BYTE = 6 };

const char* const kMetaspace = "\xE2\x96\x81";  // U+2581 LOWER ONE EIGHTH BLOCK, SentencePiece's space

json byte_level(bool add_prefix_space, bool trim_offsets, bool use_regex) {
    return {{"type", "ByteLevel"}, {"add_prefix_space", add_prefix_space}, {"trim_offsets", trim_offsets},
            {"use_regex", use_regex}};
}

json split_isolated(const std::string& regex) {
    return {{"type", "Split"}, {"pattern", {{"Regex", regex}}}, {"behavior", "Isolated"}, {"invert", false}};
}

// What HF uses for each llama.cpp pre-tokenizer family.
struct PreTokenizer {
    json normalizer;     // null when none
    json pre_tokenizer;
    bool ignore_merges;  // BPE model flag (Llama 3 sets it)
};

// GPT-2's regex: 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S), which
// ByteLevel(use_regex=true) applies itself.
PreTokenizer gpt2_family() { return {nullptr, byte_level(false, true, true), false}; }

// StarCoder/SmolLM: digits split one by one, then GPT-2's regex.
PreTokenizer starcoder_family() {
    return {nullptr,
            {{"type", "Sequence"},
             {"pretokenizers", json::array({{{"type", "Digits"}, {"individual_digits", true}},
                                            byte_level(false, true, true)})}},
            false};
}

PreTokenizer llama3_family() {
    const std::string regex =
        "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
        "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
    return {nullptr,
            {{"type", "Sequence"},
             {"pretokenizers", json::array({split_isolated(regex), byte_level(false, true, false)})}},
            true};
}

PreTokenizer qwen2_family() {
    const std::string regex =
        "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
        "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
    return {{{"type", "NFC"}},
            {{"type", "Sequence"},
             {"pretokenizers", json::array({split_isolated(regex), byte_level(false, false, false)})}},
            false};
}

const std::map<std::string, PreTokenizer (*)()>& pre_tokenizer_table() {
    static const std::map<std::string, PreTokenizer (*)()> table = {
        {"gpt-2", gpt2_family},       {"phi-2", gpt2_family},     {"roberta-bpe", gpt2_family},
        {"mpt", gpt2_family},         {"olmo", gpt2_family},      {"starcoder", starcoder_family},
        {"refact", starcoder_family}, {"smollm", starcoder_family}, {"llama-bpe", llama3_family},
        {"llama3", llama3_family},    {"llama-v3", llama3_family}, {"qwen2", qwen2_family},
        {"deepseek-r1-qwen", qwen2_family},
    };
    return table;
}

// The token list with its types (NORMAL when the file has no types).
struct Vocab {
    std::vector<std::string> tokens;
    std::vector<int64_t> types;
};

Vocab read_vocab(const GgufFile& g) {
    Vocab v;
    const GgufArray& tokens = g.get_array("tokenizer.ggml.tokens", GgufValueType::STRING);
    if (tokens.items.empty()) throw Error(g.path(), "metadata 'tokenizer.ggml.tokens' is empty");
    v.tokens.reserve(tokens.items.size());
    for (const auto& t : tokens.items) v.tokens.push_back(t.as_string());
    if (g.contains("tokenizer.ggml.token_type")) {
        const GgufArray& types = g.get_array("tokenizer.ggml.token_type", GgufValueType::INT32);
        if (types.items.size() != v.tokens.size())
            throw Error(g.path(), "metadata 'tokenizer.ggml.token_type' has " + std::to_string(types.items.size()) +
                                      " entries for " + std::to_string(v.tokens.size()) + " tokens");
        for (const auto& t : types.items) v.types.push_back(t.as_int());
    } else {
        v.types.assign(v.tokens.size(), NORMAL);
    }
    return v;
}

std::optional<int64_t> token_id(const GgufFile& g, const Vocab& v, const std::string& key) {
    auto id = g.get_int_opt(key);
    if (!id) return std::nullopt;
    // Some converters write -1 (or UINT32_MAX, read as 4294967295) for "none".
    if (*id < 0 || *id == 0xFFFFFFFFll) return std::nullopt;
    if (*id >= static_cast<int64_t>(v.tokens.size()))
        throw Error(g.path(), "metadata '" + key + "' is " + std::to_string(*id) + ", beyond the " +
                                  std::to_string(v.tokens.size()) + " tokens");
    return id;
}

bool is_added_token(int64_t type) { return type == CONTROL || type == USER_DEFINED || type == UNKNOWN; }

json added_token(int64_t id, const std::string& content, int64_t type) {
    return {{"id", id},           {"content", content},  {"single_word", false}, {"lstrip", false},
            {"rstrip", false},    {"normalized", false}, {"special", type != USER_DEFINED}};
}

json vocab_object(const Vocab& v) {
    json vocab = json::object();
    // A duplicated token keeps its first id (a JSON object cannot map one
    // string to two ids); real files only duplicate unused padding tokens.
    for (std::size_t i = 0; i < v.tokens.size(); ++i)
        vocab.emplace(v.tokens[i], static_cast<int64_t>(i));
    return vocab;
}

// TemplateProcessing that adds BOS/EOS around each sequence, as HF's Llama
// tokenizers do; null when neither is added.
json post_processor(const Vocab& v, std::optional<int64_t> bos, std::optional<int64_t> eos, bool add_bos,
                    bool add_eos) {
    if (!(add_bos && bos) && !(add_eos && eos)) return nullptr;
    json single = json::array(), pair = json::array(), specials = json::object();
    auto special = [&](int64_t id) {
        const std::string& t = v.tokens[static_cast<std::size_t>(id)];
        specials[t] = {{"id", t}, {"ids", {id}}, {"tokens", {t}}};
        return json{{"SpecialToken", {{"id", t}, {"type_id", 0}}}};
    };
    auto sequence = [](const char* id, int type_id) { return json{{"Sequence", {{"id", id}, {"type_id", type_id}}}}; };
    for (int part = 0; part < 2; ++part) {
        json& out = part == 0 ? single : pair;
        for (int s = 0; s <= part; ++s) {
            if (add_bos && bos) out.push_back(special(*bos));
            out.push_back(sequence(s == 0 ? "A" : "B", s));
            if (add_eos && eos) out.push_back(special(*eos));
        }
    }
    return {{"type", "TemplateProcessing"}, {"single", single}, {"pair", pair}, {"special_tokens", specials}};
}

json bpe_model(json vocab, json merges, json unk, bool fuse_unk, bool byte_fallback, bool ignore_merges) {
    return {{"type", "BPE"},
            {"dropout", nullptr},
            {"unk_token", std::move(unk)},
            {"continuing_subword_prefix", nullptr},
            {"end_of_word_suffix", nullptr},
            {"fuse_unk", fuse_unk},
            {"byte_fallback", byte_fallback},
            {"ignore_merges", ignore_merges},
            {"vocab", std::move(vocab)},
            {"merges", std::move(merges)}};
}

// HF's SentencePieceExtractor: every split of a piece into two pieces that
// are both in the vocab is a merge, ranked by the merged piece's score
// (higher first), ties in vocab order of the piece, then of its halves.
json sentencepiece_merges(const GgufFile& g, const Vocab& v) {
    const GgufArray& scores_array = g.get_array("tokenizer.ggml.scores", GgufValueType::FLOAT32);
    if (scores_array.items.size() != v.tokens.size())
        throw Error(g.path(), "metadata 'tokenizer.ggml.scores' has " + std::to_string(scores_array.items.size()) +
                                  " entries for " + std::to_string(v.tokens.size()) + " tokens");
    std::unordered_map<std::string_view, int64_t> ids;
    for (std::size_t i = 0; i < v.tokens.size(); ++i) ids.emplace(v.tokens[i], static_cast<int64_t>(i));

    struct Merge {
        int64_t left, right;
        double score;
    };
    std::vector<Merge> merges;
    for (std::size_t i = 0; i < v.tokens.size(); ++i) {
        const std::string& piece = v.tokens[i];
        std::vector<Merge> local;
        // Split at code point boundaries (Python slices str by characters).
        for (std::size_t cut = 1; cut < piece.size(); ++cut) {
            if ((static_cast<unsigned char>(piece[cut]) & 0xC0) == 0x80) continue;
            auto l = ids.find(std::string_view(piece).substr(0, cut));
            auto r = ids.find(std::string_view(piece).substr(cut));
            if (l != ids.end() && r != ids.end()) local.push_back({l->second, r->second, scores_array.items[i].as_float()});
        }
        std::sort(local.begin(), local.end(), [](const Merge& a, const Merge& b) {
            return a.left != b.left ? a.left < b.left : a.right < b.right;
        });
        merges.insert(merges.end(), local.begin(), local.end());
    }
    std::stable_sort(merges.begin(), merges.end(), [](const Merge& a, const Merge& b) { return a.score > b.score; });
    json out = json::array();
    for (const Merge& m : merges)
        out.push_back({v.tokens[static_cast<std::size_t>(m.left)], v.tokens[static_cast<std::size_t>(m.right)]});
    return out;
}

json added_tokens(const Vocab& v) {
    json out = json::array();
    for (std::size_t i = 0; i < v.tokens.size(); ++i)
        if (is_added_token(v.types[i])) out.push_back(added_token(static_cast<int64_t>(i), v.tokens[i], v.types[i]));
    return out;
}

json gpt2_tokenizer(const GgufFile& g, const Vocab& v) {
    const std::string pre = g.get_string("tokenizer.ggml.pre");
    const auto& table = pre_tokenizer_table();
    auto it = table.find(pre);
    if (it == table.end()) {
        std::string names;
        for (const auto& name : supported_gguf_pre_tokenizers()) names += (names.empty() ? "" : ", ") + name;
        throw Error(g.path(), "tokenizer.ggml.pre '" + pre + "' is not supported (supported: " + names + ")");
    }
    const PreTokenizer p = it->second();
    const GgufArray& merges_array = g.get_array("tokenizer.ggml.merges", GgufValueType::STRING);
    json merges = json::array();
    for (const auto& m : merges_array.items) {
        const std::string& s = m.as_string();
        if (s.find(' ') == std::string::npos || s.find(' ') != s.rfind(' '))
            throw Error(g.path(), "metadata 'tokenizer.ggml.merges' holds '" + s + "', not two tokens and a space");
        merges.push_back(s);
    }
    const auto bos = token_id(g, v, "tokenizer.ggml.bos_token_id");
    const auto eos = token_id(g, v, "tokenizer.ggml.eos_token_id");
    return {{"version", "1.0"},
            {"truncation", nullptr},
            {"padding", nullptr},
            {"added_tokens", added_tokens(v)},
            {"normalizer", p.normalizer},
            {"pre_tokenizer", p.pre_tokenizer},
            {"post_processor", post_processor(v, bos, eos, g.get_bool_or("tokenizer.ggml.add_bos_token", false),
                                              g.get_bool_or("tokenizer.ggml.add_eos_token", false))},
            {"decoder", byte_level(true, true, true)},
            {"model", bpe_model(vocab_object(v), std::move(merges), nullptr, false, false, p.ignore_merges)}};
}

json sentencepiece_tokenizer(const GgufFile& g, const Vocab& v) {
    const bool add_space_prefix = g.get_bool_or("tokenizer.ggml.add_space_prefix", true);
    const auto bos = token_id(g, v, "tokenizer.ggml.bos_token_id");
    const auto eos = token_id(g, v, "tokenizer.ggml.eos_token_id");
    const auto unk = token_id(g, v, "tokenizer.ggml.unknown_token_id");
    // SentencePiece's add_dummy_prefix always prepends a space, even to text
    // that starts with one (a Metaspace pre-tokenizer would not): HF's
    // SentencePiece converter and llama.cpp both do it in this normalizer form.
    json normalizers = json::array();
    if (add_space_prefix) normalizers.push_back({{"type", "Prepend"}, {"prepend", kMetaspace}});
    normalizers.push_back({{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", kMetaspace}});
    json decoders = json::array({{{"type", "Replace"}, {"pattern", {{"String", kMetaspace}}}, {"content", " "}},
                                 {{"type", "ByteFallback"}},
                                 {{"type", "Fuse"}}});
    if (add_space_prefix) decoders.push_back({{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}});
    return {{"version", "1.0"},
            {"truncation", nullptr},
            {"padding", nullptr},
            {"added_tokens", added_tokens(v)},
            {"normalizer", {{"type", "Sequence"}, {"normalizers", normalizers}}},
            {"pre_tokenizer", nullptr},
            {"post_processor", post_processor(v, bos, eos, g.get_bool_or("tokenizer.ggml.add_bos_token", true),
                                              g.get_bool_or("tokenizer.ggml.add_eos_token", false))},
            {"decoder", {{"type", "Sequence"}, {"decoders", decoders}}},
            {"model", bpe_model(vocab_object(v), sentencepiece_merges(g, v),
                                unk ? json(v.tokens[static_cast<std::size_t>(*unk)]) : json(nullptr), true, true,
                                false)}};
}

} // namespace

std::vector<std::string> supported_gguf_pre_tokenizers() {
    std::vector<std::string> names;
    for (const auto& [name, fn] : pre_tokenizer_table()) names.push_back(name);
    return names;
}

nlohmann::json tokenizer_json_from_gguf(const GgufFile& g) {
    const std::string model = g.get_string("tokenizer.ggml.model");
    if (model != "gpt2" && model != "llama")
        throw Error(g.path(), "tokenizer.ggml.model '" + model + "' is not supported (supported: gpt2, llama)");
    const Vocab v = read_vocab(g);
    return model == "gpt2" ? gpt2_tokenizer(g, v) : sentencepiece_tokenizer(g, v);
}

nlohmann::json tokenizer_config_from_gguf(const GgufFile& g) {
    const std::string model = g.get_string("tokenizer.ggml.model");
    const Vocab v = read_vocab(g);
    const bool spm = model == "llama";
    json config = {{"add_bos_token", g.get_bool_or("tokenizer.ggml.add_bos_token", spm)},
                   {"add_eos_token", g.get_bool_or("tokenizer.ggml.add_eos_token", false)},
                   {"clean_up_tokenization_spaces", false},
                   {"tokenizer_class", "PreTrainedTokenizerFast"}};
    auto token = [&](const char* key, const char* name) {
        if (auto id = token_id(g, v, key)) config[name] = v.tokens[static_cast<std::size_t>(*id)];
    };
    token("tokenizer.ggml.bos_token_id", "bos_token");
    token("tokenizer.ggml.eos_token_id", "eos_token");
    token("tokenizer.ggml.unknown_token_id", "unk_token");
    token("tokenizer.ggml.padding_token_id", "pad_token");
    if (g.contains("tokenizer.chat_template")) config["chat_template"] = g.get_string("tokenizer.chat_template");
    const std::string arch = g.get_string_or("general.architecture", "");
    if (auto ctx = g.get_int_opt(arch + ".context_length")) config["model_max_length"] = *ctx;
    json decoder = json::object();
    for (std::size_t i = 0; i < v.tokens.size(); ++i) {
        if (!is_added_token(v.types[i])) continue;
        json t = added_token(static_cast<int64_t>(i), v.tokens[i], v.types[i]);
        t.erase("id");
        decoder[std::to_string(i)] = t;
    }
    config["added_tokens_decoder"] = decoder;
    return config;
}

} // namespace glq::io
