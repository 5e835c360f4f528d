#pragma once
// Python semantics shared by the Jinja filters, tests and methods: how
// str.split/strip/replace/title behave, what iter() and len() accept, how
// `+` and `in` work, and how jinja2 reads `attribute=` paths.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/io/jinja_value.h"

namespace glq::io::jinja {

[[noreturn]] void type_error(const std::string& message);  // throws TemplateError

bool is_py_space(const std::string& code_point);  // str.isspace() for one character
std::string ascii_upper(std::string s);
std::string ascii_lower(std::string s);

const std::string& expect_string(const Value& v, const char* what);
std::int64_t expect_int(const Value& v, const char* what);
// Argument `i` or keyword `name` as a bool / string (nullopt when absent or None).
bool arg_bool(const CallArgs& a, std::size_t i, const char* name, bool fallback);
std::optional<std::string> arg_string(const CallArgs& a, std::size_t i, const char* name);

// Python's iter() and len(); Undefined iterates as empty and has length 0.
List iterate(const Value& v, const char* what);
std::int64_t length_of(const Value& v);
// jinja2's `attribute=` lookup: dotted paths, integer parts index lists.
Value attribute_of(const Value& item, const std::string& path);

// Python's `item in container` (substring, element or key).
bool contains(const Value& container, const Value& item);
// Python's `x + y` for numbers, strings (Markup-aware), lists and tuples.
Value add_values(const Value& x, const Value& y);

// str methods. chars = nullopt strips whitespace; maxsplit < 0 = no limit.
std::string py_strip(const std::string& s, const std::optional<std::string>& chars, bool left, bool right);
std::vector<std::string> split_whitespace(const std::string& s, std::int64_t maxsplit);
std::vector<std::string> split_on(const std::string& s, const std::string& sep, std::int64_t maxsplit);
std::vector<std::string> rsplit_on(const std::string& s, const std::string& sep, std::int64_t maxsplit);
std::string replace_all(const std::string& s, const std::string& old, const std::string& repl, std::int64_t count);
std::string py_title(const std::string& s);
std::string py_capitalize(const std::string& s);
Value strings_to_list(const std::vector<std::string>& parts);
std::string html_escape(const std::string& s);  // markupsafe.escape

} // namespace glq::io::jinja
