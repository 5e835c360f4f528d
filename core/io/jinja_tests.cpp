// jinja2's built-in tests (`x is defined`, `x is string`, ...).

#include <map>

#include "core/io/jinja_builtins.h"
#include "core/io/jinja_python.h"

namespace glq::io::jinja {
namespace {

using TestFn = bool (*)(const Value&, CallArgs&);

const Value& test_arg(CallArgs& a, const char* test) {
    if (a.positional.empty()) type_error(std::string("test '") + test + "' needs an argument");
    return a.positional[0];
}

bool t_defined(const Value& v, CallArgs&) { return !v.is_undefined(); }
bool t_undefined(const Value& v, CallArgs&) { return v.is_undefined(); }
bool t_none(const Value& v, CallArgs&) { return v.is_none(); }
bool t_boolean(const Value& v, CallArgs&) { return v.kind == Kind::Bool; }
bool t_true(const Value& v, CallArgs&) { return v.kind == Kind::Bool && v.boolean; }
bool t_false(const Value& v, CallArgs&) { return v.kind == Kind::Bool && !v.boolean; }
bool t_integer(const Value& v, CallArgs&) { return v.kind == Kind::Int; }
bool t_float(const Value& v, CallArgs&) { return v.kind == Kind::Float; }
bool t_number(const Value& v, CallArgs&) { return v.is_number(); }
bool t_string(const Value& v, CallArgs&) { return v.is_string(); }
bool t_mapping(const Value& v, CallArgs&) { return v.is_dict(); }
// jinja2 asks iter()/len(): Undefined supports both, so it is iterable and a sequence.
bool t_iterable(const Value& v, CallArgs&) {
    return v.is_string() || v.is_list() || v.is_dict() || v.is_undefined();
}
bool t_sequence(const Value& v, CallArgs& a) { return t_iterable(v, a); }
bool t_callable(const Value& v, CallArgs&) { return v.is_callable(); }
bool t_odd(const Value& v, CallArgs&) { return expect_int(v, "odd") % 2 != 0; }
bool t_even(const Value& v, CallArgs&) { return expect_int(v, "even") % 2 == 0; }
bool t_divisibleby(const Value& v, CallArgs& a) {
    std::int64_t d = expect_int(test_arg(a, "divisibleby"), "divisibleby");
    if (d == 0) type_error("integer division or modulo by zero");
    return expect_int(v, "divisibleby") % d == 0;
}
bool t_eq(const Value& v, CallArgs& a) { return equals(v, test_arg(a, "eq")); }
bool t_ne(const Value& v, CallArgs& a) { return !equals(v, test_arg(a, "ne")); }
bool t_lt(const Value& v, CallArgs& a) { return less_than(v, test_arg(a, "lt")); }
bool t_gt(const Value& v, CallArgs& a) { return less_than(test_arg(a, "gt"), v); }
bool t_le(const Value& v, CallArgs& a) { return !less_than(test_arg(a, "le"), v); }
bool t_ge(const Value& v, CallArgs& a) { return !less_than(v, test_arg(a, "ge")); }
bool t_in(const Value& v, CallArgs& a) { return contains(test_arg(a, "in"), v); }
bool t_lower(const Value& v, CallArgs&) { return v.is_string() && ascii_lower(v.text) == v.text; }
bool t_upper(const Value& v, CallArgs&) { return v.is_string() && ascii_upper(v.text) == v.text; }
bool t_sameas(const Value& v, CallArgs& a) {
    const Value& o = test_arg(a, "sameas");
    if (v.kind != o.kind) return false;
    if (v.is_list()) return v.list == o.list;
    if (v.is_dict() || v.kind == Kind::Namespace) return v.dict == o.dict;
    return equals(v, o);
}
bool t_filter(const Value& v, CallArgs&) { return v.is_string() && has_filter(v.text); }
bool t_test(const Value& v, CallArgs&) { return v.is_string() && has_test(v.text); }

const std::map<std::string, TestFn>& tests() {
    static const std::map<std::string, TestFn> table = {
        {"defined", t_defined},   {"undefined", t_undefined},     {"none", t_none},
        {"boolean", t_boolean},   {"true", t_true},               {"false", t_false},
        {"integer", t_integer},   {"float", t_float},             {"number", t_number},
        {"string", t_string},     {"mapping", t_mapping},         {"iterable", t_iterable},
        {"sequence", t_sequence}, {"callable", t_callable},       {"odd", t_odd},
        {"even", t_even},         {"divisibleby", t_divisibleby}, {"eq", t_eq},
        {"equalto", t_eq},        {"==", t_eq},                   {"ne", t_ne},
        {"!=", t_ne},             {"lt", t_lt},                   {"lessthan", t_lt},
        {"<", t_lt},              {"gt", t_gt},                   {"greaterthan", t_gt},
        {">", t_gt},              {"le", t_le},                   {"<=", t_le},
        {"ge", t_ge},             {">=", t_ge},                   {"in", t_in},
        {"lower", t_lower},       {"upper", t_upper},             {"sameas", t_sameas},
        {"filter", t_filter},     {"test", t_test},
    };
    return table;
}

} // namespace

bool apply_test(const std::string& name, const Value& input, CallArgs& args) {
    auto it = tests().find(name);
    if (it == tests().end()) throw TemplateError("No test named '" + name + "' found.");
    return it->second(input, args);
}
bool has_test(const std::string& name) { return tests().count(name) != 0; }


} // namespace glq::io::jinja
