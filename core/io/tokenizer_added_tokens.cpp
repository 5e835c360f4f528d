#include "core/io/tokenizer_added_tokens.h"

#include "core/io/unicode.h"

namespace glq::io {

void AddedTokenMatcher::add(std::string_view pattern, const AddedToken& token) {
    if (pattern.empty()) return;
    uint32_t node = 0;
    for (char c : pattern) {
        const uint64_t key = (static_cast<uint64_t>(node) << 8) | static_cast<unsigned char>(c);
        const auto it = edges_.find(key);
        if (it != edges_.end()) {
            node = it->second;
        } else {
            const auto child = static_cast<uint32_t>(terminal_.size());
            terminal_.push_back(-1);
            edges_.emplace(key, child);
            node = child;
        }
    }
    if (terminal_[node] >= 0) return;  // the same pattern twice: the first wins
    terminal_[node] = static_cast<int>(tokens_.size());
    tokens_.push_back({token, pattern.size()});
    first_byte_[static_cast<unsigned char>(pattern[0])] = true;
}

int AddedTokenMatcher::longest_at(std::string_view text, std::size_t pos, std::size_t& len) const {
    int best = -1;
    uint32_t node = 0;
    for (std::size_t i = pos; i < text.size(); ++i) {
        const uint64_t key = (static_cast<uint64_t>(node) << 8) | static_cast<unsigned char>(text[i]);
        const auto it = edges_.find(key);
        if (it == edges_.end()) break;
        node = it->second;
        if (terminal_[node] >= 0) {
            best = terminal_[node];
            len = i + 1 - pos;
        }
    }
    return best;
}

namespace {

// The code point that ends just before byte `end`.
char32_t code_point_before(std::string_view s, std::size_t end) {
    std::size_t start = end - 1;
    while (start > 0 && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) --start;
    return unicode::next_code_point(s, start);
}

} // namespace

std::vector<AddedTokenMatcher::Segment> AddedTokenMatcher::split(std::string_view text) const {
    std::vector<Segment> out;
    std::size_t start_offset = 0;  // end of the last emitted segment
    std::size_t search = 0;
    while (search < text.size() && !tokens_.empty()) {
        std::size_t pos = search, len = 0;
        int found = -1;
        for (; pos < text.size(); ++pos) {
            if (!first_byte_[static_cast<unsigned char>(text[pos])]) continue;
            if ((found = longest_at(text, pos, len)) >= 0) break;
        }
        if (found < 0) break;
        const AddedToken& tok = tokens_[static_cast<std::size_t>(found)].token;
        std::size_t begin = pos, end = pos + len;
        search = end;
        if (tok.single_word) {
            // Only as a whole word: no word character touching either side.
            const bool left_ok = begin == 0 || !unicode::is_word_char(code_point_before(text, begin));
            std::size_t after = end;
            const bool right_ok = end == text.size() || !unicode::is_word_char(unicode::next_code_point(text, after));
            if (!left_ok || !right_ok) continue;
        }
        if (tok.lstrip) {
            while (begin > start_offset && unicode::is_whitespace(code_point_before(text, begin))) {
                std::size_t b = begin - 1;
                while (b > 0 && (static_cast<unsigned char>(text[b]) & 0xC0) == 0x80) --b;
                begin = b;
            }
        }
        if (tok.rstrip) {
            while (end < text.size()) {
                std::size_t next = end;
                if (!unicode::is_whitespace(unicode::next_code_point(text, next))) break;
                end = next;
            }
            search = end;
        }
        if (begin > start_offset) out.push_back({start_offset, begin, -1});
        out.push_back({begin, end, tok.id});
        start_offset = end;
    }
    if (start_offset < text.size()) out.push_back({start_offset, text.size(), -1});
    return out;
}

} // namespace glq::io
