#include "core/io/tokenizer_pretokenizers.h"

#include <functional>
#include <optional>

#include "core/io/tokenizer_byte_level.h"
#include "core/io/tokenizer_json_util.h"
#include "core/io/tokenizer_split_patterns.h"
#include "core/io/unicode.h"

namespace glq::io {

using nlohmann::json;

namespace {

enum class Behavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous };

Behavior parse_behavior(const json& j, const std::string& where, Behavior fallback) {
    const auto it = j.find("behavior");
    if (it == j.end() || it->is_null()) return fallback;
    const std::string b = it->get<std::string>();
    if (b == "Removed") return Behavior::Removed;
    if (b == "Isolated") return Behavior::Isolated;
    if (b == "MergedWithPrevious") return Behavior::MergedWithPrevious;
    if (b == "MergedWithNext") return Behavior::MergedWithNext;
    if (b == "Contiguous") return Behavior::Contiguous;
    throw Error(where, "pre-tokenizer split behavior \"" + b + "\" is not supported");
}

// A byte range of a piece and whether the pattern matched it. Together the
// spans cover the piece, in order.
struct Span {
    std::size_t begin, end;
    bool is_match;
};

// Fills the gaps between sorted, non-overlapping matches.
std::vector<Span> with_gaps(const std::vector<std::pair<std::size_t, std::size_t>>& matches, std::size_t size) {
    std::vector<Span> spans;
    spans.reserve(matches.size() * 2 + 1);
    std::size_t pos = 0;
    for (const auto& [b, e] : matches) {
        if (b > pos) spans.push_back({pos, b, false});
        spans.push_back({b, e, true});
        pos = e;
    }
    if (pos < size) spans.push_back({pos, size, false});
    return spans;
}

// HF's NormalizedString::split: how matches and gaps become pieces.
std::vector<std::pair<std::size_t, std::size_t>> apply_behavior(std::vector<Span> spans, Behavior behavior, bool invert) {
    if (invert)
        for (auto& s : spans) s.is_match = !s.is_match;
    std::vector<std::pair<std::size_t, std::size_t>> out;
    switch (behavior) {
    case Behavior::Removed:
        for (const auto& s : spans)
            if (!s.is_match) out.emplace_back(s.begin, s.end);
        break;
    case Behavior::Isolated:
        for (const auto& s : spans) out.emplace_back(s.begin, s.end);
        break;
    case Behavior::MergedWithPrevious: {
        bool previous_match = false;
        for (const auto& s : spans) {
            if (s.is_match && !previous_match && !out.empty()) out.back().second = s.end;
            else out.emplace_back(s.begin, s.end);
            previous_match = s.is_match;
        }
        break;
    }
    case Behavior::MergedWithNext: {
        bool previous_match = false;
        for (auto it = spans.rbegin(); it != spans.rend(); ++it) {
            if (it->is_match && !previous_match && !out.empty()) out.back().first = it->begin;
            else out.emplace_back(it->begin, it->end);
            previous_match = it->is_match;
        }
        std::reverse(out.begin(), out.end());
        break;
    }
    case Behavior::Contiguous: {
        bool previous_match = false;
        for (const auto& s : spans) {
            if (s.is_match == previous_match && !out.empty()) out.back().second = s.end;
            else out.emplace_back(s.begin, s.end);
            previous_match = s.is_match;
        }
        break;
    }
    }
    return out;
}

// Splits every piece by `find` (byte-range matches of one piece's text).
using MatchFn = std::function<std::vector<std::pair<std::size_t, std::size_t>>(const std::string&)>;
void split_pieces(std::vector<PreToken>& pieces, const MatchFn& find, Behavior behavior, bool invert) {
    std::vector<PreToken> out;
    out.reserve(pieces.size());
    for (auto& p : pieces) {
        for (const auto& [b, e] : apply_behavior(with_gaps(find(p.text), p.text.size()), behavior, invert)) {
            if (e > b) out.push_back({p.text.substr(b, e - b), p.at_start && b == 0});
        }
    }
    pieces = std::move(out);
}

// Every code point for which pred holds is one match.
MatchFn char_matches(std::function<bool(char32_t)> pred) {
    return [pred = std::move(pred)](const std::string& t) {
        std::vector<std::pair<std::size_t, std::size_t>> m;
        for (std::size_t i = 0; i < t.size();) {
            const std::size_t b = i;
            if (pred(unicode::next_code_point(t, i))) m.emplace_back(b, i);
        }
        return m;
    };
}

MatchFn literal_matches(std::string pattern) {
    return [pattern = std::move(pattern)](const std::string& t) {
        std::vector<std::pair<std::size_t, std::size_t>> m;
        if (pattern.empty()) return m;
        for (std::size_t hit = t.find(pattern); hit != std::string::npos; hit = t.find(pattern, hit + pattern.size()))
            m.emplace_back(hit, hit + pattern.size());
        return m;
    };
}

MatchFn regex_matches(SplitPattern pattern) {
    return [pattern](const std::string& t) {
        // Code-point spans from the matcher, mapped back to byte offsets.
        std::u32string cps;
        std::vector<std::size_t> offset;
        cps.reserve(t.size());
        offset.reserve(t.size() + 1);
        for (std::size_t i = 0; i < t.size();) {
            offset.push_back(i);
            cps.push_back(unicode::next_code_point(t, i));
        }
        offset.push_back(t.size());
        auto m = find_split_matches(pattern, cps);
        for (auto& [b, e] : m) {
            b = offset[b];
            e = offset[e];
        }
        return m;
    };
}

struct Split final : PreTokenizer {
    MatchFn find;
    Behavior behavior = Behavior::Isolated;
    bool invert = false;
    void pre_tokenize(std::vector<PreToken>& pieces) const override { split_pieces(pieces, find, behavior, invert); }
};

struct ByteLevel final : PreTokenizer {
    bool add_prefix_space = false;
    bool use_regex = true;
    void pre_tokenize(std::vector<PreToken>& pieces) const override {
        if (add_prefix_space)
            for (auto& p : pieces)
                if (p.text.empty() || p.text[0] != ' ') p.text.insert(0, " ");
        if (use_regex) split_pieces(pieces, regex_matches(SplitPattern::Gpt2), Behavior::Isolated, false);
        for (auto& p : pieces) {
            std::string mapped;
            mapped.reserve(p.text.size() * 2);
            byte_level::encode(p.text, mapped);
            p.text = std::move(mapped);
        }
    }
};

struct Metaspace final : PreTokenizer {
    enum class Prepend { Always, First, Never };
    std::string replacement;
    Prepend prepend = Prepend::Always;
    bool split = true;
    void pre_tokenize(std::vector<PreToken>& pieces) const override {
        for (auto& p : pieces) {
            std::string t;
            t.reserve(p.text.size() + replacement.size());
            for (char c : p.text) {
                if (c == ' ') t += replacement;
                else t.push_back(c);
            }
            const bool starts = t.compare(0, replacement.size(), replacement) == 0;
            if (!starts && (prepend == Prepend::Always || (prepend == Prepend::First && p.at_start)))
                t.insert(0, replacement);
            p.text = std::move(t);
        }
        if (split) split_pieces(pieces, literal_matches(replacement), Behavior::MergedWithNext, false);
    }
};

struct Sequence final : PreTokenizer {
    std::vector<std::unique_ptr<PreTokenizer>> steps;
    void pre_tokenize(std::vector<PreToken>& pieces) const override {
        for (const auto& s : steps) s->pre_tokenize(pieces);
    }
};

std::unique_ptr<PreTokenizer> make_split(MatchFn find, Behavior behavior, bool invert = false) {
    auto s = std::make_unique<Split>();
    s->find = std::move(find);
    s->behavior = behavior;
    s->invert = invert;
    return s;
}

// Whitespace: the regex \w+|[^\w\s]+; everything else (spaces) is dropped.
std::vector<std::pair<std::size_t, std::size_t>> word_runs(const std::string& t) {
    std::vector<std::pair<std::size_t, std::size_t>> m;
    int run = 0;  // 0 none, 1 word, 2 other non-space
    for (std::size_t i = 0; i < t.size();) {
        const std::size_t b = i;
        const char32_t cp = unicode::next_code_point(t, i);
        const int kind = unicode::is_word_char(cp) ? 1 : unicode::is_whitespace(cp) ? 0 : 2;
        if (kind != 0 && kind == run) m.back().second = i;
        else if (kind != 0) m.emplace_back(b, i);
        run = kind;
    }
    return m;
}

} // namespace

std::unique_ptr<PreTokenizer> parse_pre_tokenizer(const json& j, const std::string& where, int depth) {
    if (j.is_null()) return nullptr;
    const std::string type = tokjson::type_of(j, where, "pre_tokenizer");
    if (type == "ByteLevel") {
        auto p = std::make_unique<ByteLevel>();
        p->add_prefix_space = tokjson::get_or(j, "add_prefix_space", false);
        p->use_regex = tokjson::get_or(j, "use_regex", true);
        return p;
    }
    if (type == "Split") {
        const json& pattern = tokjson::require(j, "pattern", where, "Split pre-tokenizer");
        MatchFn find;
        if (pattern.is_object() && pattern.contains("Regex")) {
            const std::string regex = pattern["Regex"].get<std::string>();
            const auto known = recognise_split_pattern(regex);
            if (!known)
                throw Error(where, "Split pre-tokenizer regex " + json_excerpt(json(regex), 120) +
                                       " is not supported (known: the GPT-2, Llama-3 and Qwen2 patterns)");
            find = regex_matches(*known);
        } else {
            find = literal_matches(tokjson::string_pattern(pattern, where, "Split pre-tokenizer"));
        }
        return make_split(std::move(find), parse_behavior(j, where, Behavior::Isolated), tokjson::get_or(j, "invert", false));
    }
    if (type == "Metaspace") {
        auto p = std::make_unique<Metaspace>();
        p->replacement = tokjson::get_or<std::string>(j, "replacement", "\xE2\x96\x81");
        if (p->replacement.empty()) throw Error(where, "Metaspace pre-tokenizer has an empty replacement");
        p->split = tokjson::get_or(j, "split", true);
        if (j.contains("prepend_scheme") && !j["prepend_scheme"].is_null()) {
            const std::string s = j["prepend_scheme"].get<std::string>();
            if (s == "always") p->prepend = Metaspace::Prepend::Always;
            else if (s == "first") p->prepend = Metaspace::Prepend::First;
            else if (s == "never") p->prepend = Metaspace::Prepend::Never;
            else throw Error(where, "Metaspace prepend_scheme \"" + s + "\" is not supported");
        } else {
            p->prepend = tokjson::get_or(j, "add_prefix_space", true) ? Metaspace::Prepend::Always
                                                                       : Metaspace::Prepend::Never;
        }
        return p;
    }
    if (type == "Digits") {
        const bool individual = tokjson::get_or(j, "individual_digits", false);
        return make_split(char_matches(unicode::is_number), individual ? Behavior::Isolated : Behavior::Contiguous);
    }
    if (type == "Punctuation")
        return make_split(char_matches(unicode::is_punctuation), parse_behavior(j, where, Behavior::Isolated));
    if (type == "Whitespace") return make_split(word_runs, Behavior::Removed, /*invert=*/true);
    if (type == "WhitespaceSplit") return make_split(char_matches(unicode::is_whitespace), Behavior::Removed);
    if (type == "CharDelimiterSplit") {
        const std::string d = tokjson::require(j, "delimiter", where, "CharDelimiterSplit").get<std::string>();
        return make_split(literal_matches(d), Behavior::Removed);
    }
    if (type == "Sequence") {
        tokjson::check_sequence_depth(depth, where, "pre_tokenizer");
        auto p = std::make_unique<Sequence>();
        for (const auto& step : tokjson::require(j, "pretokenizers", where, "Sequence pre-tokenizer"))
            if (auto s = parse_pre_tokenizer(step, where, depth + 1)) p->steps.push_back(std::move(s));
        return p;
    }
    throw Error(where, "pre_tokenizer \"" + type + "\" is not supported");
}

} // namespace glq::io
