#pragma once
// The values a Jinja template computes with. They follow Python's semantics
// (what jinja2 does under transformers), because a chat template's output
// must be byte-identical to the reference: str() of a list is its Python
// repr, 7 // -2 floors, dicts keep insertion order, and Undefined prints as
// nothing but fails when a template digs into it.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace glq::io::jinja {

// What one render may spend. jinja2 has no such limits; a chat template from
// an untrusted file needs them, since `{{ 'x' * 4000000000 }}` or two nested
// 100,000-step loops would otherwise exhaust memory or never end. Real
// templates use a few thousand steps and a few copies of the conversation.
constexpr std::int64_t kMaxRenderSteps = 2'000'000;  // statements + loop iterations + expressions (+ items they touch)
constexpr std::uint64_t kMaxRenderBytes = 1ull << 30;  // strings and lists built, in all (1 GiB)
constexpr std::size_t kMaxStringBytes = 64u << 20;    // one string, the output included (64 MiB)
constexpr std::size_t kMaxListItems = 1u << 20;       // one list built by the template
// Calls, blocks and expressions being evaluated inside each other (macro
// recursion included); each level is a few stack frames.
constexpr int kMaxRenderDepth = 600;

// Lists and dicts nest at most this deep for the walks that recurse over a
// value (repr, str, tojson, ==, <): a template can build [[[...]]] in a loop.
constexpr int kMaxValueDepth = 200;

// Limits for one string a filter or method builds (widths, indents, joins,
// replacements): TemplateError beyond kMaxStringBytes.
void append_bounded(std::string& out, const std::string& s);
std::size_t bounded_width(std::int64_t n, const char* what);

// A failure while rendering: raise_exception(), a type error, an undefined
// value used where jinja2 fails. `line` is filled in by the interpreter at
// the innermost node that knows its line (0 = not known yet).
class TemplateError : public std::runtime_error {
public:
    explicit TemplateError(const std::string& message, bool raised_by_template = false)
        : std::runtime_error(message), raised_by_template(raised_by_template) {}
    int line = 0;
    bool raised_by_template;  // raise_exception(): its message is shown as written
};

struct Value;
struct Dict;
struct CallArgs;
using List = std::vector<Value>;
using ListPtr = std::shared_ptr<List>;
using DictPtr = std::shared_ptr<Dict>;
using Function = std::function<Value(CallArgs&)>;

enum class Kind { Undefined, None, Bool, Int, Float, String, List, Dict, Namespace, Function };

struct Value {
    Kind kind = Kind::Undefined;
    bool boolean = false;
    bool is_tuple = false;   // a List written as (a, b): repr uses parentheses
    bool markup = false;     // a String marked |safe: `+` HTML-escapes the other operand (markupsafe.Markup)
    std::int64_t integer = 0;
    double number = 0.0;
    std::string text;        // String; for Undefined, the name that was looked up
    ListPtr list;            // List
    DictPtr dict;            // Dict and Namespace
    std::shared_ptr<Function> function;

    Value() = default;
    static Value undefined(std::string name = {});
    static Value none();
    static Value from(bool b);
    static Value from(std::int64_t i);
    static Value from(int i) { return from(static_cast<std::int64_t>(i)); }
    static Value from(double d);
    static Value from(std::string s);
    static Value from(const char* s) { return from(std::string(s)); }
    static Value from(List items, bool tuple = false);
    static Value from(Dict d);
    static Value make_namespace(Dict d);
    static Value make_function(Function f);

    bool is_undefined() const { return kind == Kind::Undefined; }
    bool is_none() const { return kind == Kind::None; }
    bool is_string() const { return kind == Kind::String; }
    bool is_list() const { return kind == Kind::List; }
    bool is_dict() const { return kind == Kind::Dict; }
    bool is_number() const { return kind == Kind::Int || kind == Kind::Float || kind == Kind::Bool; }
    bool is_callable() const { return kind == Kind::Function; }
    double as_double() const;  // Int, Float or Bool

    bool truthy() const;
};

// An insertion-ordered dict, as a Python dict is. Keys from JSON are
// strings; a template's own literal may use others ({1024: 256}): those are
// stored under key_name(key) and remembered in typed_keys.
struct Dict {
    std::vector<std::pair<std::string, Value>> entries;
    std::vector<std::pair<std::string, Value>> typed_keys;  // key_name -> the non-string key

    const Value* find(const std::string& key) const;
    Value* find(const std::string& key);
    void set(const std::string& key, Value v);

    static std::string key_name(const Value& key);  // the string a key is stored under
    const Value* find(const Value& key) const { return find(key_name(key)); }
    void set(const Value& key, Value v);
    Value key_at(std::size_t index) const;          // the key as the template sees it
};

struct CallArgs {
    std::vector<Value> positional;
    std::vector<std::pair<std::string, Value>> keyword;

    // Argument `index` or keyword `name`, if given.
    const Value* get(std::size_t index, const char* name) const;
    // Checks there are no arguments beyond these names (TemplateError otherwise).
    void expect_at_most(std::size_t count, std::initializer_list<const char*> names, const char* what) const;
};

const char* kind_name(const Value& v);  // Python's type name: str, int, list, dict, ...

// Python's str(): what {{ v }} prints. Undefined prints as "".
std::string to_str(const Value& v);
// Python's repr(): how a value appears inside a printed list or dict.
std::string repr(const Value& v);
// Python's ==.
bool equals(const Value& a, const Value& b);
// Python's <, for sort and comparisons; TemplateError for unorderable types.
bool less_than(const Value& a, const Value& b);

// json.dumps(v, ensure_ascii=False, indent=indent, sort_keys=sort_keys) as
// transformers' tojson filter calls it. indent: nullopt = one line.
std::string to_json(const Value& v, std::optional<std::string> indent, bool sort_keys,
                    std::optional<std::pair<std::string, std::string>> separators = std::nullopt);

// Values from parsed JSON (the render context); insertion order is kept for ordered_json.
Value from_json(const nlohmann::ordered_json& j);
Value from_json(const nlohmann::json& j);

// 64-bit integer arithmetic; Python's integers do not overflow, ours report
// it as a TemplateError instead of wrapping around.
std::int64_t checked_add(std::int64_t a, std::int64_t b);
std::int64_t checked_sub(std::int64_t a, std::int64_t b);
std::int64_t checked_mul(std::int64_t a, std::int64_t b);

// Python float repr: shortest round-trip digits, "1.0" not "1".
std::string format_float(double d);

// UTF-8 helpers: strings are indexed, sliced and measured in code points as in Python.
std::vector<std::string> code_points(const std::string& s);
std::size_t code_point_count(const std::string& s);

} // namespace glq::io::jinja
