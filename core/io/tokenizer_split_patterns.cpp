#include "core/io/tokenizer_split_patterns.h"

#include "core/io/unicode.h"

namespace glq::io {

namespace {

constexpr std::string_view kGpt2 =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
constexpr std::string_view kLlama3 =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr std::string_view kQwen2 =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

// What the patterns ask of a position: its class bits and whether it is \s,
// with "past the end" answering no to everything.
struct Text {
    std::u32string_view cps;
    std::vector<uint8_t> cls;
    std::vector<bool> space;

    explicit Text(std::u32string_view t) : cps(t), cls(t.size()), space(t.size()) {
        for (std::size_t i = 0; i < t.size(); ++i) {
            cls[i] = unicode::char_class(t[i]);
            space[i] = unicode::is_whitespace(t[i]);
        }
    }
    std::size_t size() const { return cps.size(); }
    char32_t at(std::size_t i) const { return i < cps.size() ? cps[i] : 0; }
    bool letter(std::size_t i) const { return i < cps.size() && cls[i] == unicode::kLetter; }
    bool number(std::size_t i) const { return i < cps.size() && cls[i] == unicode::kNumber; }
    bool ws(std::size_t i) const { return i < cps.size() && space[i]; }
    // [^\s\p{L}\p{N}]
    bool other(std::size_t i) const { return i < cps.size() && !space[i] && !letter(i) && !number(i); }
    bool newline(std::size_t i) const { return at(i) == U'\r' || at(i) == U'\n'; }
};

// Case-insensitive ASCII letter match, with the Unicode case-folding
// equivalents the (?i) flag brings for the letters of the contractions
// (U+017F LONG S folds to s; no others apply to s t r e v m l d).
bool ci_equal(char32_t c, char lower) {
    if (c == static_cast<char32_t>(lower) || c == static_cast<char32_t>(lower - 32)) return true;
    return lower == 's' && c == 0x017F;
}

// 's|'t|'re|'ve|'m|'ll|'d (optionally case-insensitive): length matched, or 0.
std::size_t match_contraction(const Text& t, std::size_t pos, bool ci) {
    if (t.at(pos) != U'\'' || pos + 1 >= t.size()) return 0;
    auto eq = [&](std::size_t i, char c) {
        return i < t.size() && (ci ? ci_equal(t.at(i), c) : t.at(i) == static_cast<char32_t>(c));
    };
    for (char c : {'s', 't', 'm', 'd'})
        if (eq(pos + 1, c)) return 2;
    for (const char* two : {"re", "ve", "ll"})
        if (eq(pos + 1, two[0]) && eq(pos + 2, two[1])) return 3;
    return 0;
}

// \s+(?!\S)|\s+ at pos (pos is whitespace): end of the match.
std::size_t match_trailing_space(const Text& t, std::size_t pos) {
    std::size_t end = pos;
    while (t.ws(end)) ++end;
    // Followed by a non-space: leave the last space to start the next word.
    if (end < t.size() && end - pos > 1) return end - 1;
    return end;
}

void split_gpt2(const Text& t, std::vector<std::pair<std::size_t, std::size_t>>& out) {
    std::size_t pos = 0;
    while (pos < t.size()) {
        const std::size_t start = pos;
        if (std::size_t n = match_contraction(t, pos, false)) {
            out.emplace_back(start, pos + n);
            pos += n;
            continue;
        }
        const std::size_t body = t.at(pos) == U' ' ? pos + 1 : pos;  // the optional leading space
        if (t.letter(body)) {
            pos = body;
            while (t.letter(pos)) ++pos;
        } else if (t.number(body)) {
            pos = body;
            while (t.number(pos)) ++pos;
        } else if (t.other(body)) {
            pos = body;
            while (t.other(pos)) ++pos;
        } else if (t.ws(pos)) {
            pos = match_trailing_space(t, pos);
        } else {
            ++pos;  // unreachable: every code point is \s, L, N or other
        }
        out.emplace_back(start, pos);
    }
}

void split_llama3(const Text& t, std::size_t max_digits,
                  std::vector<std::pair<std::size_t, std::size_t>>& out) {
    std::size_t pos = 0;
    while (pos < t.size()) {
        const std::size_t start = pos;
        if (std::size_t n = match_contraction(t, pos, true)) {
            out.emplace_back(start, pos + n);
            pos += n;
            continue;
        }
        // [^\r\n\p{L}\p{N}]?\p{L}+
        if (t.letter(pos) || (!t.newline(pos) && !t.number(pos) && t.letter(pos + 1))) {
            ++pos;
            while (t.letter(pos)) ++pos;
            out.emplace_back(start, pos);
            continue;
        }
        // \p{N}{1,max}
        if (t.number(pos)) {
            while (t.number(pos) && pos - start < max_digits) ++pos;
            out.emplace_back(start, pos);
            continue;
        }
        // ' ?[^\s\p{L}\p{N}]+[\r\n]*'
        const std::size_t body = t.at(pos) == U' ' ? pos + 1 : pos;
        if (t.other(body)) {
            pos = body;
            while (t.other(pos)) ++pos;
            while (t.newline(pos)) ++pos;
            out.emplace_back(start, pos);
            continue;
        }
        // \s*[\r\n]+ : the whitespace run up to its last \r or \n.
        std::size_t run_end = pos;
        std::size_t last_newline_end = 0;
        while (t.ws(run_end)) {
            if (t.newline(run_end)) last_newline_end = run_end + 1;
            ++run_end;
        }
        if (last_newline_end > 0) {
            pos = last_newline_end;
        } else if (run_end > pos) {
            pos = match_trailing_space(t, pos);
        } else {
            ++pos;  // unreachable: every code point is \s, L, N or other
        }
        out.emplace_back(start, pos);
    }
}

} // namespace

std::optional<SplitPattern> recognise_split_pattern(std::string_view regex) {
    if (regex == kGpt2) return SplitPattern::Gpt2;
    if (regex == kLlama3) return SplitPattern::Llama3;
    if (regex == kQwen2) return SplitPattern::Qwen2;
    return std::nullopt;
}

std::string_view split_pattern_regex(SplitPattern p) {
    switch (p) {
    case SplitPattern::Gpt2: return kGpt2;
    case SplitPattern::Llama3: return kLlama3;
    case SplitPattern::Qwen2: return kQwen2;
    }
    return {};
}

std::vector<std::pair<std::size_t, std::size_t>> find_split_matches(SplitPattern p,
                                                                    std::u32string_view text) {
    const Text t(text);
    std::vector<std::pair<std::size_t, std::size_t>> out;
    switch (p) {
    case SplitPattern::Gpt2: split_gpt2(t, out); break;
    case SplitPattern::Llama3: split_llama3(t, 3, out); break;
    case SplitPattern::Qwen2: split_llama3(t, 1, out); break;
    }
    return out;
}

} // namespace glq::io
