#include "core/io/tokenizer_decoders.h"

#include "core/io/tokenizer_byte_level.h"
#include "core/io/tokenizer_json_util.h"
#include "core/io/unicode.h"

namespace glq::io {

using nlohmann::json;

namespace {

const std::string kReplacementChar = "\xEF\xBF\xBD";  // U+FFFD

std::string replace_all(const std::string& text, const std::string& pattern, const std::string& content) {
    if (pattern.empty()) return text;
    std::string out;
    std::size_t pos = 0;
    for (std::size_t hit; (hit = text.find(pattern, pos)) != std::string::npos; pos = hit + pattern.size()) {
        out.append(text, pos, hit - pos);
        out += content;
    }
    out.append(text, pos);
    return out;
}

// All tokens' bytes, one string, invalid UTF-8 replaced as Rust's from_utf8_lossy does.
// A token with a character outside the byte alphabet (e.g. an added token
// with a space) contributes its own UTF-8 bytes.
struct ByteLevelDecoder final : Decoder {
    void decode_chain(std::vector<std::string>& tokens) const override {
        std::string bytes;
        for (const auto& t : tokens) {
            const std::size_t mark = bytes.size();
            bool all_mapped = true;
            for (std::size_t i = 0; i < t.size() && all_mapped;) {
                const auto b = byte_level::decode_char(unicode::next_code_point(t, i));
                if (b) bytes.push_back(static_cast<char>(*b));
                else all_mapped = false;
            }
            if (!all_mapped) {
                bytes.resize(mark);
                bytes += t;
            }
        }
        tokens.assign(1, unicode::utf8_lossy(bytes));
    }
};

// Replacement → ' '; the first token loses every replacement character when
// a prefix was prepended (HF's behaviour, which strips the added prefix).
struct MetaspaceDecoder final : Decoder {
    std::string replacement;
    bool strip_first = true;
    void decode_chain(std::vector<std::string>& tokens) const override {
        for (std::size_t i = 0; i < tokens.size(); ++i)
            tokens[i] = replace_all(tokens[i], replacement, i == 0 && strip_first ? "" : " ");
    }
};

struct ReplaceDecoder final : Decoder {
    std::string pattern, content;
    void decode_chain(std::vector<std::string>& tokens) const override {
        for (auto& t : tokens) t = replace_all(t, pattern, content);
    }
};

// Runs of <0xAB> tokens become their bytes when those are valid UTF-8, else
// one U+FFFD per byte token.
struct ByteFallbackDecoder final : Decoder {
    static int byte_of(const std::string& t) {
        if (t.size() != 6 || t.compare(0, 3, "<0x") != 0 || t[5] != '>') return -1;
        int v = 0;
        for (int k = 3; k < 5; ++k) {
            const char c = t[static_cast<std::size_t>(k)];
            int d;
            if (c >= '0' && c <= '9') d = c - '0';
            else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
            else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
            else return -1;
            v = v * 16 + d;
        }
        return v;
    }
    void decode_chain(std::vector<std::string>& tokens) const override {
        std::vector<std::string> out;
        out.reserve(tokens.size());
        std::string pending;
        auto flush = [&] {
            if (pending.empty()) return;
            if (unicode::utf8_lossy(pending) == pending) out.push_back(pending);
            else
                for (std::size_t k = 0; k < pending.size(); ++k) out.push_back(kReplacementChar);
            pending.clear();
        };
        for (auto& t : tokens) {
            const int b = byte_of(t);
            if (b >= 0) {
                pending.push_back(static_cast<char>(b));
            } else {
                flush();
                out.push_back(std::move(t));
            }
        }
        flush();
        tokens = std::move(out);
    }
};

struct FuseDecoder final : Decoder {
    void decode_chain(std::vector<std::string>& tokens) const override {
        std::string all;
        for (const auto& t : tokens) all += t;
        tokens.assign(1, std::move(all));
    }
};

// Removes up to `start` leading and `stop` trailing `content` characters of each token.
struct StripDecoder final : Decoder {
    char32_t content = U' ';
    std::size_t start = 0, stop = 0;
    void decode_chain(std::vector<std::string>& tokens) const override {
        for (auto& t : tokens) {
            std::u32string cps = unicode::to_u32(t);
            std::size_t begin = 0, end = cps.size();
            while (begin < std::min(start, cps.size()) && cps[begin] == content) ++begin;
            for (std::size_t k = 0; k < stop && end > begin && cps[end - 1] == content; ++k) --end;
            t = unicode::to_utf8(std::u32string_view(cps).substr(begin, end - begin));
        }
    }
};

// end_of_word_suffix → ' ', except at the very end.
struct BpeSuffixDecoder final : Decoder {
    std::string suffix;
    void decode_chain(std::vector<std::string>& tokens) const override {
        for (std::size_t i = 0; i < tokens.size(); ++i)
            tokens[i] = replace_all(tokens[i], suffix, i + 1 == tokens.size() ? "" : " ");
    }
};

struct SequenceDecoder final : Decoder {
    std::vector<std::unique_ptr<Decoder>> steps;
    void decode_chain(std::vector<std::string>& tokens) const override {
        for (const auto& s : steps) s->decode_chain(tokens);
    }
};

} // namespace

std::unique_ptr<Decoder> parse_decoder(const json& j, const std::string& where, int depth) {
    if (j.is_null()) return nullptr;
    const std::string type = tokjson::type_of(j, where, "decoder");
    if (type == "ByteLevel") return std::make_unique<ByteLevelDecoder>();
    if (type == "Metaspace") {
        auto d = std::make_unique<MetaspaceDecoder>();
        d->replacement = tokjson::get_or<std::string>(j, "replacement", "\xE2\x96\x81");
        if (j.contains("prepend_scheme") && !j["prepend_scheme"].is_null())
            d->strip_first = j["prepend_scheme"].get<std::string>() != "never";
        else
            d->strip_first = tokjson::get_or(j, "add_prefix_space", true);
        return d;
    }
    if (type == "Replace") {
        auto d = std::make_unique<ReplaceDecoder>();
        d->pattern = tokjson::string_pattern(tokjson::require(j, "pattern", where, "Replace decoder"), where,
                                             "Replace decoder");
        d->content = tokjson::require(j, "content", where, "Replace decoder").get<std::string>();
        return d;
    }
    if (type == "ByteFallback") return std::make_unique<ByteFallbackDecoder>();
    if (type == "Fuse") return std::make_unique<FuseDecoder>();
    if (type == "Strip") {
        auto d = std::make_unique<StripDecoder>();
        const auto content = unicode::to_u32(tokjson::require(j, "content", where, "Strip decoder").get<std::string>());
        if (content.size() != 1) throw Error(where, "Strip decoder content must be one character");
        d->content = content[0];
        d->start = tokjson::get_or<std::size_t>(j, "start", 0);
        d->stop = tokjson::get_or<std::size_t>(j, "stop", 0);
        return d;
    }
    if (type == "BPEDecoder") {
        auto d = std::make_unique<BpeSuffixDecoder>();
        d->suffix = tokjson::get_or<std::string>(j, "suffix", "</w>");
        return d;
    }
    if (type == "Sequence") {
        tokjson::check_sequence_depth(depth, where, "decoder");
        auto d = std::make_unique<SequenceDecoder>();
        for (const auto& step : tokjson::require(j, "decoders", where, "Sequence decoder"))
            if (auto s = parse_decoder(step, where, depth + 1)) d->steps.push_back(std::move(s));
        return d;
    }
    throw Error(where, "decoder \"" + type + "\" is not supported");
}

} // namespace glq::io
