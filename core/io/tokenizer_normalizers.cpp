#include "core/io/tokenizer_normalizers.h"

#include <vector>

#include "core/io/tokenizer_byte_level.h"
#include "core/io/tokenizer_json_util.h"
#include "core/io/unicode.h"

namespace glq::io {

using nlohmann::json;

namespace {

std::string replace_all(std::string_view text, std::string_view pattern, std::string_view content) {
    if (pattern.empty()) return std::string(text);
    std::string out;
    out.reserve(text.size());
    std::size_t pos = 0;
    for (std::size_t hit; (hit = text.find(pattern, pos)) != std::string_view::npos; pos = hit + pattern.size()) {
        out.append(text.substr(pos, hit - pos));
        out.append(content);
    }
    out.append(text.substr(pos));
    return out;
}

struct Nfc final : Normalizer {
    void normalize(std::string& t) const override { t = unicode::nfc(t); }
};

struct Lowercase final : Normalizer {
    void normalize(std::string& t) const override { t = unicode::lowercase(t); }
};

struct Prepend final : Normalizer {
    std::string prefix;
    void normalize(std::string& t) const override {
        if (!t.empty()) t.insert(0, prefix);
    }
};

struct Replace final : Normalizer {
    std::string pattern, content;
    void normalize(std::string& t) const override { t = replace_all(t, pattern, content); }
};

// Rust's str::trim_start/trim_end: White_Space characters.
struct Strip final : Normalizer {
    bool left = true, right = true;
    void normalize(std::string& t) const override {
        std::size_t begin = 0, end = t.size();
        if (left) {
            while (begin < end) {
                std::size_t i = begin;
                if (!unicode::is_whitespace(unicode::next_code_point(t, i))) break;
                begin = i;
            }
        }
        if (right) {
            while (end > begin) {
                std::size_t start = end - 1;
                while (start > begin && (static_cast<unsigned char>(t[start]) & 0xC0) == 0x80) --start;
                std::size_t i = start;
                if (!unicode::is_whitespace(unicode::next_code_point(t, i))) break;
                end = start;
            }
        }
        t = t.substr(begin, end - begin);
    }
};

struct ByteLevelNormalizer final : Normalizer {
    void normalize(std::string& t) const override {
        std::string out;
        byte_level::encode(t, out);
        t = std::move(out);
    }
};

struct Sequence final : Normalizer {
    std::vector<std::unique_ptr<Normalizer>> steps;
    void normalize(std::string& t) const override {
        for (const auto& s : steps) s->normalize(t);
    }
};

} // namespace

std::unique_ptr<Normalizer> parse_normalizer(const json& j, const std::string& where, int depth) {
    if (j.is_null()) return nullptr;
    const std::string type = tokjson::type_of(j, where, "normalizer");
    if (type == "NFC") return std::make_unique<Nfc>();
    if (type == "Lowercase") return std::make_unique<Lowercase>();
    if (type == "ByteLevel") return std::make_unique<ByteLevelNormalizer>();
    if (type == "Prepend") {
        auto n = std::make_unique<Prepend>();
        n->prefix = tokjson::require(j, "prepend", where, "Prepend normalizer").get<std::string>();
        return n;
    }
    if (type == "Replace") {
        auto n = std::make_unique<Replace>();
        n->pattern = tokjson::string_pattern(tokjson::require(j, "pattern", where, "Replace normalizer"), where,
                                             "Replace normalizer");
        n->content = tokjson::require(j, "content", where, "Replace normalizer").get<std::string>();
        return n;
    }
    if (type == "Strip") {
        auto n = std::make_unique<Strip>();
        n->left = tokjson::get_or(j, "strip_left", true);
        n->right = tokjson::get_or(j, "strip_right", true);
        return n;
    }
    if (type == "Sequence") {
        tokjson::check_sequence_depth(depth, where, "normalizer");
        auto n = std::make_unique<Sequence>();
        for (const auto& step : tokjson::require(j, "normalizers", where, "Sequence normalizer"))
            if (auto p = parse_normalizer(step, where, depth + 1)) n->steps.push_back(std::move(p));
        return n;
    }
    throw Error(where, "normalizer \"" + type + "\" is not supported");
}

} // namespace glq::io
