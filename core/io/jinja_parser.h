#pragma once
// Parses the tokens of a Jinja template into a syntax tree, following
// jinja2's grammar and operator precedence (filters and `is` tests bind
// tighter than arithmetic; `~` binds tighter than `+`).

#include <vector>

#include "core/io/jinja_ast.h"
#include "core/io/jinja_lexer.h"

namespace glq::io::jinja {

// How deep a template may nest: blocks ({% if %}, {% for %}, ... inside
// each other), sub-expressions (parentheses, list and dict literals, calls,
// `not`, unary minus) and the syntax tree of one expression (a chain like
// a.b.c or 1 + 1 + 1 is one level per link). Parsing, rendering and freeing
// the tree each recurse once per level; real chat templates nest under 15.
constexpr int kMaxNesting = 100;

// Throws SyntaxError naming the line on malformed input, unsupported tags or
// nesting beyond kMaxNesting.
Body parse(const std::vector<Token>& tokens);

} // namespace glq::io::jinja
