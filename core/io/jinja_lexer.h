#pragma once
// Splits a Jinja template into tokens, applying the whitespace rules the way
// jinja2's lexer does with transformers' settings: `{%-`/`-%}` strip
// whitespace, trim_blocks drops the newline after a block or comment tag,
// lstrip_blocks drops the indentation before one, and a single trailing
// newline of the template is removed (keep_trailing_newline=False).

#include <stdexcept>
#include <string>
#include <vector>

namespace glq::io::jinja {

// A syntax error at a template line; ChatTemplate turns it into glq::Error.
class SyntaxError : public std::runtime_error {
public:
    SyntaxError(int line, const std::string& message) : std::runtime_error(message), line(line) {}
    int line;
};

enum class TokenType {
    Text,         // literal template text
    VarBegin,     // {{
    VarEnd,       // }}
    BlockBegin,   // {%
    BlockEnd,     // %}
    Name,
    String,       // value is the unescaped string
    Integer,
    Float,
    Operator,     // + - * / // % ** ~ == != < <= > >= = . , : | ( ) [ ] { }
    End,
};

struct Token {
    TokenType type;
    std::string value;
    int line;
};

struct LexerOptions {
    bool trim_blocks = true;
    bool lstrip_blocks = true;
    bool keep_trailing_newline = false;
};

std::vector<Token> tokenize(const std::string& source, const LexerOptions& options = {});

} // namespace glq::io::jinja
