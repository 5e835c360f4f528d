#pragma once
// Added tokens (tokenizer.json "added_tokens"): found in the text before the
// model runs, longest match first at the leftmost position (HF uses
// Aho-Corasick with LeftmostLongest), honouring single_word, lstrip and rstrip.

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace glq::io {

struct AddedToken {
    int32_t id = 0;
    std::string content;
    // content after the normalizer when `normalized`, else content. HF matches
    // normalized tokens in normalized text by it and returns it from
    // id_to_token / decode (token_to_id still takes `content`).
    std::string normalized_content;
    bool single_word = false;
    bool lstrip = false;
    bool rstrip = false;
    bool normalized = false;
    bool special = false;
};

class AddedTokenMatcher {
public:
    // `pattern` is what to look for (the content, normalized for normalized
    // tokens); `token` gives the id and flags.
    void add(std::string_view pattern, const AddedToken& token);
    bool empty() const { return tokens_.empty(); }

    struct Segment {
        std::size_t begin, end;  // byte range of the text
        int32_t id;              // the added token's id, or -1 for plain text
    };
    // Covers the whole text, in order; plain-text segments are never empty.
    std::vector<Segment> split(std::string_view text) const;

private:
    // Longest pattern that starts at pos: its index in tokens_, or -1; len set.
    int longest_at(std::string_view text, std::size_t pos, std::size_t& len) const;

    struct Entry {
        AddedToken token;
        std::size_t length;
    };
    std::vector<Entry> tokens_;
    // Byte trie: edge (node << 8 | byte) → child node; node 0 is the root.
    std::unordered_map<uint64_t, uint32_t> edges_;
    std::vector<int> terminal_{-1};  // per node: index in tokens_ or -1
    std::array<bool, 256> first_byte_{};
};

} // namespace glq::io
