#pragma once
// jinja2's built-in filters and tests, and the Python str/dict/list methods
// chat templates call (message.content.strip(), tool.items(), ...), with the
// semantics jinja2 gives them under transformers (tojson without HTML
// escaping and with ensure_ascii=False; mutating methods refused as
// ImmutableSandboxedEnvironment refuses them).

#include <optional>
#include <string>

#include "core/io/jinja_value.h"

namespace glq::io::jinja {

// Applies filter `name`; TemplateError for an unknown filter or bad arguments.
Value apply_filter(const std::string& name, const Value& input, CallArgs& args);
bool has_filter(const std::string& name);

// Applies test `name` (`x is name(args)`).
bool apply_test(const std::string& name, const Value& input, CallArgs& args);
bool has_test(const std::string& name);

// `self.name` where that is a method of a str, dict or list: a callable bound
// to self. nullopt when self's type has no such method.
std::optional<Value> bound_method(const Value& self, const std::string& name);

// Python's `item in container` (substring, element or key).
bool contains(const Value& container, const Value& item);
// Python's `x + y` for numbers, strings, lists and tuples.
Value add_values(const Value& x, const Value& y);

// Python's str.strip family. chars = nullopt strips whitespace.
std::string py_strip(const std::string& s, const std::optional<std::string>& chars, bool left, bool right);

} // namespace glq::io::jinja
