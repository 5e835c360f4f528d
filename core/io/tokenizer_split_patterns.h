#pragma once
// The regexes that byte-level BPE tokenizers split text with, implemented as
// hand-written matchers over code points (as llama.cpp's unicode.cpp does)
// instead of a regex engine with Unicode classes. Each matcher returns the
// same spans as the regex's leftmost-first find_iter would.

#include <cstddef>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

namespace glq::io {

enum class SplitPattern {
    // 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
    Gpt2,
    // (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
    Llama3,
    // As Llama3 with \p{N} one digit at a time (Qwen2, Qwen2.5, Qwen3).
    Qwen2,
};

// The pattern a tokenizer.json regex string stands for, or nullopt when it is
// not one of the supported ones.
std::optional<SplitPattern> recognise_split_pattern(std::string_view regex);
std::string_view split_pattern_regex(SplitPattern p);

// Matches of `p` in `text` (code points) as [begin, end) code-point spans,
// in order and non-overlapping.
std::vector<std::pair<std::size_t, std::size_t>> find_split_matches(SplitPattern p,
                                                                    std::u32string_view text);

} // namespace glq::io
