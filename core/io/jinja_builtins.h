#pragma once
// jinja2's built-in filters and tests (jinja_filters.cpp, jinja_tests.cpp),
// and the Python str/dict/list methods chat templates call
// (jinja_methods.cpp), with the semantics jinja2 gives them under
// transformers.

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
// to self. nullopt when self's type has no such method; TemplateError for
// methods that would mutate self (the sandbox refuses them).
std::optional<Value> bound_method(const Value& self, const std::string& name);

} // namespace glq::io::jinja
