#include "core/io/jinja_lexer.h"

#include <algorithm>
#include <cctype>
#include <cstdint>

namespace glq::io::jinja {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }
bool is_name_start(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool is_name_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }
int count_newlines(const std::string& s) { return static_cast<int>(std::count(s.begin(), s.end(), '\n')); }

std::string rstrip(const std::string& s) {
    std::size_t end = s.size();
    while (end > 0 && is_space(s[end - 1])) --end;
    return s.substr(0, end);
}

void append_utf8(std::string& out, std::uint32_t cp) {
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xc0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xe0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
        out += static_cast<char>(0x80 | (cp & 0x3f));
    } else {
        out += static_cast<char>(0xf0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
        out += static_cast<char>(0x80 | (cp & 0x3f));
    }
}

// Python's "unicode-escape" decoding of a string literal's body, which is
// what jinja2 applies to string literals.
std::string unescape(const std::string& body, int line) {
    std::string out;
    for (std::size_t i = 0; i < body.size(); ++i) {
        char c = body[i];
        if (c != '\\' || i + 1 == body.size()) {
            out += c;
            continue;
        }
        char e = body[++i];
        auto hex = [&](std::size_t digits) {
            std::uint32_t cp = 0;
            for (std::size_t k = 1; k <= digits; ++k) {
                if (i + k >= body.size() || !std::isxdigit(static_cast<unsigned char>(body[i + k])))
                    throw SyntaxError(line, "truncated \\x/\\u escape in a string literal");
                cp = cp * 16 + static_cast<std::uint32_t>(std::stoi(std::string(1, body[i + k]), nullptr, 16));
            }
            i += digits;
            if (cp > 0x10ffff) throw SyntaxError(line, "illegal Unicode character in a string literal");
            append_utf8(out, cp);
        };
        switch (e) {
        case 'n': out += '\n'; break;
        case 't': out += '\t'; break;
        case 'r': out += '\r'; break;
        case '\\': out += '\\'; break;
        case '\'': out += '\''; break;
        case '"': out += '"'; break;
        case 'a': out += '\a'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'v': out += '\v'; break;
        case '\n': break;  // line continuation
        case 'x': hex(2); break;
        case 'u': hex(4); break;
        case 'U': hex(8); break;
        default:
            if (e >= '0' && e <= '7') {
                std::uint32_t cp = 0;
                std::size_t k = 0;
                for (; k < 3 && i + k < body.size() && body[i + k] >= '0' && body[i + k] <= '7'; ++k)
                    cp = cp * 8 + static_cast<std::uint32_t>(body[i + k] - '0');
                i += k - 1;
                append_utf8(out, cp);
            } else {
                out += '\\';
                out += e;
            }
        }
    }
    return out;
}

class Lexer {
public:
    Lexer(std::string source, const LexerOptions& options) : src_(std::move(source)), opt_(options) {}

    std::vector<Token> run() {
        while (pos_ < src_.size()) lex_root();
        tokens_.push_back({TokenType::End, "", line_});
        return std::move(tokens_);
    }

private:
    std::string src_;
    LexerOptions opt_;
    std::size_t pos_ = 0;
    int line_ = 1;
    bool line_starting_ = true;  // the previous match ended with a newline (lstrip_blocks needs it)
    std::vector<Token> tokens_;

    bool at(const char* s) const { return src_.compare(pos_, std::char_traits<char>::length(s), s) == 0; }

    // Text up to the next tag, then the tag.
    void lex_root() {
        std::size_t tag = pos_;
        for (;; ++tag) {
            tag = src_.find('{', tag);
            if (tag == std::string::npos || tag + 1 >= src_.size()) {
                tag = std::string::npos;
                break;
            }
            char n = src_[tag + 1];
            if (n == '{' || n == '%' || n == '#') break;
        }
        if (tag == std::string::npos) {
            emit_text(src_.substr(pos_));
            pos_ = src_.size();
            return;
        }
        const char kind = src_[tag + 1];
        char sign = (tag + 2 < src_.size()) ? src_[tag + 2] : '\0';
        if (sign != '-' && sign != '+') sign = '\0';
        std::string text = src_.substr(pos_, tag - pos_);
        int stripped_newlines = 0;
        if (sign == '-') {
            std::string kept = rstrip(text);
            stripped_newlines = count_newlines(text) - count_newlines(kept);
            text = kept;
        } else if (sign != '+' && opt_.lstrip_blocks && kind != '{') {
            std::size_t l_pos = text.rfind('\n');
            l_pos = (l_pos == std::string::npos) ? 0 : l_pos + 1;
            if (l_pos > 0 || line_starting_) {
                if (std::all_of(text.begin() + static_cast<std::ptrdiff_t>(l_pos), text.end(), is_space))
                    text = text.substr(0, l_pos);
            }
        }
        emit_text(text);
        line_ += stripped_newlines;
        pos_ = tag + 2 + (sign ? 1 : 0);
        line_starting_ = false;
        if (kind == '#') lex_comment();
        else if (kind == '%' && lex_raw()) return;
        else lex_tag(kind == '{' ? TokenType::VarBegin : TokenType::BlockBegin);
    }

    void emit_text(const std::string& text) {
        if (!text.empty()) tokens_.push_back({TokenType::Text, text, line_});
        line_ += count_newlines(text);
    }

    void lex_comment() {
        const int start_line = line_;
        std::size_t end = src_.find("#}", pos_);
        if (end == std::string::npos) throw SyntaxError(start_line, "missing end of comment tag");
        const bool dash = end > pos_ && src_[end - 1] == '-';
        const bool plus = end > pos_ && src_[end - 1] == '+';
        line_ += count_newlines(src_.substr(pos_, end - pos_));
        pos_ = end + 2;
        finish_tag(dash, plus, /*block_like=*/true);
    }

    // After a tag's closing marker: `-` eats all following whitespace,
    // trim_blocks eats one newline after a block or comment.
    void finish_tag(bool dash, bool plus, bool block_like) {
        std::size_t start = pos_;
        if (dash) {
            while (pos_ < src_.size() && is_space(src_[pos_])) ++pos_;
        } else if (!plus && block_like && opt_.trim_blocks && pos_ < src_.size() && src_[pos_] == '\n') {
            ++pos_;
        }
        const std::string eaten = src_.substr(start, pos_ - start);
        line_ += count_newlines(eaten);
        line_starting_ = eaten.empty() ? false : eaten.back() == '\n';
    }

    // `{% raw %}...{% endraw %}`: the body is text, not parsed.
    bool lex_raw() {
        std::size_t p = pos_;
        while (p < src_.size() && is_space(src_[p])) ++p;
        if (src_.compare(p, 3, "raw") != 0 || (p + 3 < src_.size() && is_name_char(src_[p + 3]))) return false;
        p += 3;
        while (p < src_.size() && is_space(src_[p])) ++p;
        bool dash = false;
        if (src_.compare(p, 3, "-%}") == 0) {
            dash = true;
            p += 3;
        } else if (src_.compare(p, 2, "%}") == 0) {
            p += 2;
        } else {
            return false;
        }
        line_ += count_newlines(src_.substr(pos_, p - pos_));
        pos_ = p;
        if (dash) finish_tag(true, false, true);
        // Find {%[-+]? endraw [-+]?%}
        for (std::size_t q = src_.find("{%", pos_); q != std::string::npos; q = src_.find("{%", q + 2)) {
            std::size_t r = q + 2;
            char sign = (r < src_.size() && (src_[r] == '-' || src_[r] == '+')) ? src_[r++] : '\0';
            while (r < src_.size() && is_space(src_[r])) ++r;
            if (src_.compare(r, 6, "endraw") != 0) continue;
            r += 6;
            while (r < src_.size() && is_space(src_[r])) ++r;
            bool end_dash = false, end_plus = false;
            if (src_.compare(r, 3, "-%}") == 0) end_dash = true, r += 3;
            else if (src_.compare(r, 3, "+%}") == 0) end_plus = true, r += 3;
            else if (src_.compare(r, 2, "%}") == 0) r += 2;
            else continue;
            std::string body = src_.substr(pos_, q - pos_);
            const int body_newlines = count_newlines(body);
            if (sign == '-') body = rstrip(body);
            else if (sign != '+' && opt_.lstrip_blocks) {
                std::size_t l_pos = body.rfind('\n');
                l_pos = (l_pos == std::string::npos) ? 0 : l_pos + 1;
                if (std::all_of(body.begin() + static_cast<std::ptrdiff_t>(l_pos), body.end(), is_space))
                    body = body.substr(0, l_pos);
            }
            if (!body.empty()) tokens_.push_back({TokenType::Text, body, line_});
            line_ += body_newlines + count_newlines(src_.substr(q, r - q));
            pos_ = r;
            finish_tag(end_dash, end_plus, true);
            return true;
        }
        throw SyntaxError(line_, "missing end of raw directive");
    }

    void lex_tag(TokenType begin) {
        const bool block = begin == TokenType::BlockBegin;
        const int start_line = line_;
        tokens_.push_back({begin, block ? "{%" : "{{", line_});
        std::vector<char> balance;
        for (;;) {
            while (pos_ < src_.size() && is_space(src_[pos_])) {
                if (src_[pos_] == '\n') ++line_;
                ++pos_;
            }
            if (pos_ >= src_.size())
                throw SyntaxError(start_line, block ? "unexpected end of template: the block tag is not closed with '%}'"
                                                    : "unexpected end of template: the expression is not closed with '}}'");
            if (balance.empty()) {
                const char* close = block ? "%}" : "}}";
                bool dash = src_[pos_] == '-' && src_.compare(pos_ + 1, 2, close) == 0;
                bool plus = block && src_[pos_] == '+' && src_.compare(pos_ + 1, 2, close) == 0;
                if (dash || plus || src_.compare(pos_, 2, close) == 0) {
                    tokens_.push_back({block ? TokenType::BlockEnd : TokenType::VarEnd, close, line_});
                    pos_ += (dash || plus) ? 3 : 2;
                    finish_tag(dash, plus, block);
                    return;
                }
            }
            lex_expression_token(balance);
        }
    }

    void lex_expression_token(std::vector<char>& balance) {
        const char c = src_[pos_];
        if (is_name_start(c)) {
            std::size_t end = pos_;
            while (end < src_.size() && is_name_char(src_[end])) ++end;
            tokens_.push_back({TokenType::Name, src_.substr(pos_, end - pos_), line_});
            pos_ = end;
            return;
        }
        if (std::isdigit(static_cast<unsigned char>(c))) {
            lex_number();
            return;
        }
        if (c == '\'' || c == '"') {
            std::size_t p = pos_ + 1;
            while (p < src_.size() && src_[p] != c) p += (src_[p] == '\\') ? 2 : 1;
            if (p >= src_.size()) throw SyntaxError(line_, "unterminated string literal");
            std::string body = src_.substr(pos_ + 1, p - pos_ - 1);
            tokens_.push_back({TokenType::String, unescape(body, line_), line_});
            line_ += count_newlines(body);
            pos_ = p + 1;
            return;
        }
        static const char* const two_char[] = {"//", "**", "==", "!=", "<=", ">="};
        for (const char* op : two_char) {
            if (at(op)) {
                tokens_.push_back({TokenType::Operator, op, line_});
                pos_ += 2;
                return;
            }
        }
        static const std::string single = "+-*/%~<>=.,:|()[]{}";
        if (single.find(c) == std::string::npos)
            throw SyntaxError(line_, std::string("unexpected character '") + c + "'");
        if (c == '(' || c == '[' || c == '{') {
            balance.push_back(c == '(' ? ')' : c == '[' ? ']' : '}');
        } else if (c == ')' || c == ']' || c == '}') {
            if (balance.empty()) throw SyntaxError(line_, std::string("unexpected '") + c + "'");
            if (balance.back() != c)
                throw SyntaxError(line_, std::string("unexpected '") + c + "', expected '" + balance.back() + "'");
            balance.pop_back();
        }
        tokens_.push_back({TokenType::Operator, std::string(1, c), line_});
        ++pos_;
    }

    void lex_number() {
        auto digits = [&](std::size_t p) {
            while (p < src_.size() && (std::isdigit(static_cast<unsigned char>(src_[p])) ||
                                       (src_[p] == '_' && p + 1 < src_.size() &&
                                        std::isdigit(static_cast<unsigned char>(src_[p + 1])))))
                ++p;
            return p;
        };
        std::size_t end = digits(pos_);
        bool is_float = false;
        if (end + 1 < src_.size() && src_[end] == '.' && std::isdigit(static_cast<unsigned char>(src_[end + 1]))) {
            end = digits(end + 1);
            is_float = true;
        }
        if (end < src_.size() && (src_[end] == 'e' || src_[end] == 'E')) {
            std::size_t p = end + 1;
            if (p < src_.size() && (src_[p] == '+' || src_[p] == '-')) ++p;
            if (p < src_.size() && std::isdigit(static_cast<unsigned char>(src_[p]))) {
                end = digits(p);
                is_float = true;
            }
        }
        std::string text = src_.substr(pos_, end - pos_);
        text.erase(std::remove(text.begin(), text.end(), '_'), text.end());
        tokens_.push_back({is_float ? TokenType::Float : TokenType::Integer, text, line_});
        pos_ = end;
    }
};

// jinja2 splits on \r\n, \r and \n and joins with \n; without
// keep_trailing_newline one final newline is dropped.
std::string normalize_newlines(const std::string& source, bool keep_trailing_newline) {
    std::string out;
    out.reserve(source.size());
    for (std::size_t i = 0; i < source.size(); ++i) {
        if (source[i] == '\r') {
            out += '\n';
            if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
        } else {
            out += source[i];
        }
    }
    if (!keep_trailing_newline && !out.empty() && out.back() == '\n') out.pop_back();
    return out;
}

} // namespace

std::vector<Token> tokenize(const std::string& source, const LexerOptions& options) {
    return Lexer(normalize_newlines(source, options.keep_trailing_newline), options).run();
}

} // namespace glq::io::jinja
