#pragma once
// Reading JSON that a user downloaded from anywhere (config.json,
// tokenizer.json, tokenizer_config.json, generation_config.json, a
// safetensors header, a bpw map, a sensitivity table) so that a hostile or
// corrupt file gets one glq::Error naming it, never a crash or a bare
// nlohmann exception:
//
// - Nesting is limited to kMaxJsonDepth arrays/objects. nlohmann parses any
//   depth, but copying, comparing or printing a value recurses once per
//   level: a 100,000-deep `[[[...]]]` would overflow the stack later, far from
//   the file. The deepest real file of these kinds nests 6 levels.
// - Every nlohmann exception (parse_error, out_of_range.406 for 1e999, ...)
//   becomes glq::Error(where, "not valid JSON: ...").
// - json_excerpt() prints a value for an error message in bounded size and
//   depth, where json::dump() would print all of it, recursively.

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/common/error.h"

namespace glq::io {

// The deepest nesting of arrays and objects a JSON file may have.
constexpr int kMaxJsonDepth = 64;

// Parses `text` read from `where`; glq::Error(where, ...) for invalid JSON or
// nesting deeper than kMaxJsonDepth.
nlohmann::json parse_json(std::string_view text, const std::string& where);
nlohmann::ordered_json parse_ordered_json(std::string_view text, const std::string& where);

// read_file + parse_json, errors naming the path.
nlohmann::json read_json_file(const std::filesystem::path& path);

// Throws glq::Error(where, ...) when `text` nests arrays/objects deeper than
// `limit` (strings are skipped, so a '[' inside one does not count).
void check_json_depth(std::string_view text, const std::string& where, int limit = kMaxJsonDepth);

// At most `max_chars` characters of a value's JSON text (then "..."), for an
// error message. Containers deeper than 3 levels print as [...] / {...}, so the
// walk is bounded whatever the value holds.
std::string json_excerpt(const nlohmann::json& v, std::size_t max_chars = 80);
std::string json_excerpt(const nlohmann::ordered_json& v, std::size_t max_chars = 80);

// Runs `load` (a loader's body); an exception that is not glq::Error (a
// nlohmann type_error or out_of_range from an unchecked access, a
// std::out_of_range or length_error) becomes glq::Error(where, "malformed
// <what>: ...") so no message reaches the user without the file's name.
template <typename F>
auto with_file_errors(const std::string& where, const char* what, F&& load) -> decltype(load()) {
    try {
        return load();
    } catch (const Error&) {
        throw;
    } catch (const Cancelled&) {
        throw;
    } catch (const std::bad_alloc&) {
        throw Error(where, std::string("out of memory while reading the ") + what);
    } catch (const std::exception& e) {
        throw Error(where, std::string("malformed ") + what + ": " + e.what());
    }
}

} // namespace glq::io
