#pragma once
// Renders a parsed Jinja template against a context of values, with the
// globals transformers' chat template environment provides (range,
// namespace, dict, raise_exception, strftime_now) and jinja2's scoping
// (a for loop body gets a fresh scope each iteration; if does not).

#include <cstdint>
#include <ctime>
#include <functional>
#include <string>

#include "core/io/jinja_ast.h"

namespace glq::io::jinja {

struct RenderOptions {
    // The clock behind strftime_now(); the local time when empty.
    std::function<std::tm()> now;
};

// What one render may spend: kMaxRender* and the size limits in jinja_value.h.
// Throws TemplateError (with .line set) when rendering fails, or when it
// would exceed one of the limits above.
std::string render(const Body& body, const Dict& context, const RenderOptions& options = {});

} // namespace glq::io::jinja
