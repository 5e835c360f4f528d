#pragma once
// tokenizer.json "pre_tokenizer": ByteLevel, Split (String patterns and the
// GPT-2 / Llama-3 / Qwen2 regexes), Metaspace, Digits, Punctuation,
// Whitespace, WhitespaceSplit, CharDelimiterSplit and Sequence, with HF's
// split behaviours (Removed, Isolated, MergedWithPrevious, MergedWithNext,
// Contiguous) and `invert`.

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace glq::io {

struct PreToken {
    std::string text;
    bool at_start = false;  // begins at offset 0 of the input (Metaspace's "first" scheme asks)
};

class PreTokenizer {
public:
    virtual ~PreTokenizer() = default;
    // Splits (and may rewrite) each piece; empty pieces are dropped, as HF does.
    virtual void pre_tokenize(std::vector<PreToken>& pieces) const = 0;
};

// nullptr for a JSON null (no pre-tokenizer).
// A "Sequence" nests at most kMaxTokenizerSequenceDepth deep (tokenizer_json_util.h).
std::unique_ptr<PreTokenizer> parse_pre_tokenizer(const nlohmann::json& j, const std::string& where, int depth = 0);

} // namespace glq::io
