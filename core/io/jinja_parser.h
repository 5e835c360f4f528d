#pragma once
// Parses the tokens of a Jinja template into a syntax tree, following
// jinja2's grammar and operator precedence (filters and `is` tests bind
// tighter than arithmetic; `~` binds tighter than `+`).

#include <vector>

#include "core/io/jinja_ast.h"
#include "core/io/jinja_lexer.h"

namespace glq::io::jinja {

// Throws SyntaxError naming the line on malformed input or unsupported tags.
Body parse(const std::vector<Token>& tokens);

} // namespace glq::io::jinja
