// jinja2's built-in filters, with transformers' tojson (json.dumps with
// ensure_ascii=False and no HTML escaping).

#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>

#include "core/io/jinja_builtins.h"
#include "core/io/jinja_python.h"
#include "core/io/unicode.h"

namespace glq::io::jinja {
namespace {

using FilterFn = Value (*)(const Value&, CallArgs&);

Value f_trim(const Value& v, CallArgs& a) {
    a.expect_at_most(1, {"chars"}, "trim");
    return Value::from(py_strip(to_str(v), arg_string(a, 0, "chars"), true, true));
}

Value f_length(const Value& v, CallArgs& a) {
    a.expect_at_most(0, {}, "length");
    return Value::from(length_of(v));
}

std::string escape_non_ascii(const std::string& json) {
    std::string out;
    static const char* hex = "0123456789abcdef";
    auto put = [&](std::uint32_t u) {
        out += "\\u";
        for (int shift = 12; shift >= 0; shift -= 4) out += hex[(u >> shift) & 15];
    };
    for (const auto& cp : code_points(json)) {
        if (cp.size() == 1) {
            out += cp;
            continue;
        }
        std::uint32_t c = static_cast<unsigned char>(cp[0]) & (0xff >> (cp.size() + 1));
        for (std::size_t k = 1; k < cp.size(); ++k) c = (c << 6) | (static_cast<unsigned char>(cp[k]) & 0x3f);
        if (c >= 0x10000) {
            c -= 0x10000;
            put(0xd800 | (c >> 10));
            put(0xdc00 | (c & 0x3ff));
        } else {
            put(c);
        }
    }
    return out;
}

Value f_tojson(const Value& v, CallArgs& a) {
    a.expect_at_most(4, {"ensure_ascii", "indent", "separators", "sort_keys"}, "tojson");
    std::optional<std::string> indent;
    if (const Value* i = a.get(1, "indent"); i && !i->is_none()) {
        if (i->is_string()) indent = i->text;
        else indent = std::string(bounded_width(expect_int(*i, "tojson indent"), "tojson indent"), ' ');
    }
    std::optional<std::pair<std::string, std::string>> separators;
    if (const Value* s = a.get(2, "separators"); s && !s->is_none()) {
        if (!s->is_list() || s->list->size() != 2) type_error("tojson separators must be a (item, key) pair");
        separators.emplace(expect_string((*s->list)[0], "separators"), expect_string((*s->list)[1], "separators"));
    }
    std::string out = to_json(v, indent, arg_bool(a, 3, "sort_keys", false), separators);
    if (arg_bool(a, 0, "ensure_ascii", false)) out = escape_non_ascii(out);
    return Value::from(out);
}

Value f_upper(const Value& v, CallArgs& a) {
    a.expect_at_most(0, {}, "upper");
    return Value::from(ascii_upper(to_str(v)));
}
Value f_lower(const Value& v, CallArgs& a) {
    a.expect_at_most(0, {}, "lower");
    return Value::from(unicode::lowercase(to_str(v)));
}

// jinja2's title filter: words start after whitespace, '-', and opening brackets.
Value f_title(const Value& v, CallArgs& a) {
    a.expect_at_most(0, {}, "title");
    std::string s = to_str(v), out;
    bool word_start = true;
    for (char ch : s) {
        unsigned char c = static_cast<unsigned char>(ch);
        bool boundary = std::isspace(c) || c == '-' || c == '(' || c == '{' || c == '[' || c == '<';
        if (boundary) {
            out += ch;
            word_start = true;
        } else {
            out += static_cast<char>(word_start ? std::toupper(c) : std::tolower(c));
            word_start = false;
        }
    }
    return Value::from(out);
}

Value f_capitalize(const Value& v, CallArgs& a) {
    a.expect_at_most(0, {}, "capitalize");
    return Value::from(py_capitalize(to_str(v)));
}

Value f_default(const Value& v, CallArgs& a) {
    a.expect_at_most(2, {"default_value", "boolean"}, "default");
    const bool boolean = arg_bool(a, 1, "boolean", false);
    if (v.is_undefined() || (boolean && !v.truthy())) {
        const Value* d = a.get(0, "default_value");
        return d ? *d : Value::from(std::string());
    }
    return v;
}

Value f_join(const Value& v, CallArgs& a) {
    a.expect_at_most(2, {"d", "attribute"}, "join");
    std::string sep = arg_string(a, 0, "d").value_or("");
    std::optional<std::string> attr = arg_string(a, 1, "attribute");
    std::string out;
    bool first = true;
    for (const auto& item : iterate(v, "join")) {
        if (!first) append_bounded(out, sep);
        first = false;
        append_bounded(out, to_str(attr ? attribute_of(item, *attr) : item));
    }
    return Value::from(out);
}

Value f_first(const Value& v, CallArgs& a) {
    a.expect_at_most(0, {}, "first");
    List items = iterate(v, "first");
    return items.empty() ? Value::undefined("No first item, sequence was empty.") : items.front();
}
Value f_last(const Value& v, CallArgs& a) {
    a.expect_at_most(0, {}, "last");
    List items = iterate(v, "last");
    return items.empty() ? Value::undefined("No last item, sequence was empty.") : items.back();
}
Value f_list(const Value& v, CallArgs& a) {
    a.expect_at_most(0, {}, "list");
    return Value::from(iterate(v, "list"));
}
Value f_string(const Value& v, CallArgs& a) {
    a.expect_at_most(0, {}, "string");
    return Value::from(to_str(v));
}

std::optional<double> parse_float(const std::string& s) {
    std::string t = py_strip(s, std::nullopt, true, true);
    t.erase(std::remove(t.begin(), t.end(), '_'), t.end());
    if (t.empty()) return std::nullopt;
    try {
        std::size_t used = 0;
        double d = std::stod(t, &used);
        if (used == t.size()) return d;
    } catch (const std::exception&) {
    }
    return std::nullopt;
}

Value f_int(const Value& v, CallArgs& a) {
    a.expect_at_most(2, {"default", "base"}, "int");
    const Value* d = a.get(0, "default");
    const Value fallback = d ? *d : Value::from(std::int64_t(0));
    const std::int64_t base = a.get(1, "base") ? expect_int(*a.get(1, "base"), "int base") : 10;
    switch (v.kind) {
    case Kind::Int: return v;
    case Kind::Bool: return Value::from(std::int64_t(v.boolean));
    case Kind::Float: return Value::from(static_cast<std::int64_t>(std::trunc(v.number)));
    case Kind::String: {
        std::string t = py_strip(v.text, std::nullopt, true, true);
        try {
            std::size_t used = 0;
            long long n = std::stoll(t, &used, static_cast<int>(base));
            if (used == t.size() && !t.empty()) return Value::from(static_cast<std::int64_t>(n));
        } catch (const std::exception&) {
        }
        if (base == 10)
            if (auto f = parse_float(t)) return Value::from(static_cast<std::int64_t>(std::trunc(*f)));
        return fallback;
    }
    default: return fallback;
    }
}

Value f_float(const Value& v, CallArgs& a) {
    a.expect_at_most(1, {"default"}, "float");
    const Value* d = a.get(0, "default");
    const Value fallback = d ? *d : Value::from(0.0);
    if (v.is_number()) return Value::from(v.as_double());
    if (v.is_string())
        if (auto f = parse_float(v.text)) return Value::from(*f);
    return fallback;
}

Value f_replace(const Value& v, CallArgs& a) {
    a.expect_at_most(3, {"old", "new", "count"}, "replace");
    const Value* old = a.get(0, "old");
    const Value* repl = a.get(1, "new");
    if (!old || !repl) type_error("replace() needs the old and the new string");
    const Value* count = a.get(2, "count");
    return Value::from(replace_all(to_str(v), to_str(*old), to_str(*repl),
                                   count && !count->is_none() ? expect_int(*count, "replace count") : -1));
}

Value f_items(const Value& v, CallArgs& a) {
    a.expect_at_most(0, {}, "items");
    if (v.is_undefined()) return Value::from(List{});
    if (!v.is_dict()) type_error(std::string("items filter expects a mapping, got ") + kind_name(v));
    List out;
    for (std::size_t i = 0; i < v.dict->entries.size(); ++i)
        out.push_back(Value::from(List{v.dict->key_at(i), v.dict->entries[i].second}, true));
    return Value::from(std::move(out));
}

// select/reject/selectattr/rejectattr share this: keep items whose test result equals `keep`.
Value select_items(const Value& v, CallArgs& a, bool by_attribute, bool keep, const char* what) {
    CallArgs test_args;
    std::size_t next = 0;
    std::string attr;
    if (by_attribute) {
        if (a.positional.empty()) type_error(std::string(what) + "() needs an attribute name");
        attr = expect_string(a.positional[next++], what);
    }
    std::optional<std::string> test;
    if (next < a.positional.size()) test = expect_string(a.positional[next++], what);
    for (; next < a.positional.size(); ++next) test_args.positional.push_back(a.positional[next]);
    test_args.keyword = a.keyword;
    List out;
    if (!v.truthy()) return Value::from(std::move(out));  // jinja2: `if seq:`, so None selects nothing
    for (const auto& item : iterate(v, what)) {
        Value subject = by_attribute ? attribute_of(item, attr) : item;
        CallArgs call = test_args;
        bool result = test ? apply_test(*test, subject, call) : subject.truthy();
        if (result == keep) out.push_back(item);
    }
    return Value::from(std::move(out));
}

Value f_select(const Value& v, CallArgs& a) { return select_items(v, a, false, true, "select"); }
Value f_reject(const Value& v, CallArgs& a) { return select_items(v, a, false, false, "reject"); }
Value f_selectattr(const Value& v, CallArgs& a) { return select_items(v, a, true, true, "selectattr"); }
Value f_rejectattr(const Value& v, CallArgs& a) { return select_items(v, a, true, false, "rejectattr"); }

Value f_map(const Value& v, CallArgs& a) {
    List out;
    if (!v.truthy()) return Value::from(std::move(out));  // jinja2: `if seq:`, so None maps to nothing
    if (const Value* attr = a.get(99, "attribute")) {
        const Value* dflt = a.get(99, "default");
        for (const auto& item : iterate(v, "map")) {
            Value got = attribute_of(item, expect_string(*attr, "map attribute"));
            out.push_back(got.is_undefined() && dflt ? *dflt : got);
        }
        return Value::from(std::move(out));
    }
    if (a.positional.empty()) type_error("map() needs a filter name or attribute=");
    const std::string filter = expect_string(a.positional[0], "map");
    CallArgs rest;
    rest.positional.assign(a.positional.begin() + 1, a.positional.end());
    rest.keyword = a.keyword;
    for (const auto& item : iterate(v, "map")) {
        CallArgs call = rest;
        out.push_back(apply_filter(filter, item, call));
    }
    return Value::from(std::move(out));
}

Value f_safe(const Value& v, CallArgs& a) {
    a.expect_at_most(0, {}, "safe");
    Value out = Value::from(to_str(v));
    out.markup = true;
    return out;
}

Value sort_key(const Value& item, const std::optional<std::string>& attr, bool case_sensitive) {
    Value k = attr ? attribute_of(item, *attr) : item;
    if (!case_sensitive && k.is_string()) return Value::from(ascii_lower(k.text));
    return k;
}

Value f_unique(const Value& v, CallArgs& a) {
    a.expect_at_most(2, {"case_sensitive", "attribute"}, "unique");
    const bool cs = arg_bool(a, 0, "case_sensitive", false);
    const auto attr = arg_string(a, 1, "attribute");
    List out, seen;
    for (const auto& item : iterate(v, "unique")) {
        Value key = sort_key(item, attr, cs);
        if (std::none_of(seen.begin(), seen.end(), [&](const Value& s) { return equals(s, key); })) {
            seen.push_back(key);
            out.push_back(item);
        }
    }
    return Value::from(std::move(out));
}

Value f_sort(const Value& v, CallArgs& a) {
    a.expect_at_most(3, {"reverse", "case_sensitive", "attribute"}, "sort");
    const bool reverse = arg_bool(a, 0, "reverse", false);
    const bool cs = arg_bool(a, 1, "case_sensitive", false);
    const auto attr = arg_string(a, 2, "attribute");
    List items = iterate(v, "sort");
    std::stable_sort(items.begin(), items.end(), [&](const Value& x, const Value& y) {
        Value kx = sort_key(x, attr, cs), ky = sort_key(y, attr, cs);
        return reverse ? less_than(ky, kx) : less_than(kx, ky);
    });
    return Value::from(std::move(items));
}

Value f_dictsort(const Value& v, CallArgs& a) {
    a.expect_at_most(3, {"case_sensitive", "by", "reverse"}, "dictsort");
    if (!v.is_dict()) type_error(std::string("dictsort expects a mapping, got ") + kind_name(v));
    const bool cs = arg_bool(a, 0, "case_sensitive", false);
    const bool by_value = arg_string(a, 1, "by").value_or("key") == "value";
    const bool reverse = arg_bool(a, 2, "reverse", false);
    CallArgs none;
    List items = *f_items(v, none).list;
    std::stable_sort(items.begin(), items.end(), [&](const Value& x, const Value& y) {
        Value kx = sort_key((*x.list)[by_value ? 1 : 0], std::nullopt, cs);
        Value ky = sort_key((*y.list)[by_value ? 1 : 0], std::nullopt, cs);
        return reverse ? less_than(ky, kx) : less_than(kx, ky);
    });
    return Value::from(std::move(items));
}

// Python's round(x, n): round half to even on the exact binary value.
double py_round(double x, std::int64_t digits) {
    const double scale = std::pow(10.0, static_cast<double>(digits));
    double y = x * scale;
    double r = std::nearbyint(y);  // default rounding mode: half to even
    return r / scale;
}

Value f_round(const Value& v, CallArgs& a) {
    a.expect_at_most(2, {"precision", "method"}, "round");
    const std::int64_t precision = a.get(0, "precision") ? expect_int(*a.get(0, "precision"), "round precision") : 0;
    const std::string method = arg_string(a, 1, "method").value_or("common");
    const double x = v.as_double();
    if (method == "common") return Value::from(py_round(x, precision));
    const double scale = std::pow(10.0, static_cast<double>(precision));
    if (method == "floor") return Value::from(std::floor(x * scale) / scale);
    if (method == "ceil") return Value::from(std::ceil(x * scale) / scale);
    type_error("round method must be 'common', 'ceil' or 'floor'");
}

Value f_abs(const Value& v, CallArgs& a) {
    a.expect_at_most(0, {}, "abs");
    if (v.kind == Kind::Int) return Value::from(v.integer < 0 ? -v.integer : v.integer);
    if (v.kind == Kind::Bool) return Value::from(std::int64_t(v.boolean));
    if (v.kind == Kind::Float) return Value::from(std::fabs(v.number));
    type_error(std::string("bad operand type for abs(): '") + kind_name(v) + "'");
}

Value f_indent(const Value& v, CallArgs& a) {
    a.expect_at_most(3, {"width", "first", "blank"}, "indent");
    std::string indentation = "    ";
    if (const Value* w = a.get(0, "width"))
        indentation = w->is_string() ? w->text : std::string(bounded_width(expect_int(*w, "indent width"), "indent width"), ' ');
    const bool first = arg_bool(a, 1, "first", false);
    const bool blank = arg_bool(a, 2, "blank", false);
    std::string s = to_str(v) + "\n";
    std::vector<std::string> lines = split_on(s, "\n", -1);
    lines.pop_back();  // splitlines() of text ending in "\n" has no empty last line
    std::string out;
    for (std::size_t i = 0; i < lines.size(); ++i) {
        if (i == 0) {
            out = lines[0];
            continue;
        }
        out += "\n";
        if (blank || !lines[i].empty()) append_bounded(out, indentation);
        append_bounded(out, lines[i]);
    }
    if (first) {
        std::string indented = indentation;
        append_bounded(indented, out);
        out = std::move(indented);
    }
    return Value::from(out);
}

Value f_center(const Value& v, CallArgs& a) {
    a.expect_at_most(1, {"width"}, "center");
    const auto width = static_cast<std::int64_t>(
        bounded_width(a.get(0, "width") ? expect_int(*a.get(0, "width"), "center width") : 80, "center width"));
    std::string s = to_str(v);
    const std::int64_t len = static_cast<std::int64_t>(code_point_count(s));
    if (width <= len) return Value::from(s);
    // CPython's str.center: the odd space goes left only when the width is odd.
    const std::int64_t marg = width - len;
    const std::int64_t left = marg / 2 + (marg & width & 1);
    return Value::from(std::string(static_cast<std::size_t>(left), ' ') + s +
                       std::string(static_cast<std::size_t>(marg - left), ' '));
}

Value f_reverse(const Value& v, CallArgs& a) {
    a.expect_at_most(0, {}, "reverse");
    if (v.is_string()) {
        auto cps = code_points(v.text);
        std::string out;
        for (auto it = cps.rbegin(); it != cps.rend(); ++it) out += *it;
        return Value::from(out);
    }
    List items = iterate(v, "reverse");
    std::reverse(items.begin(), items.end());
    return Value::from(std::move(items));
}

Value f_sum(const Value& v, CallArgs& a) {
    a.expect_at_most(2, {"attribute", "start"}, "sum");
    const auto attr = arg_string(a, 0, "attribute");
    Value total = a.get(1, "start") ? *a.get(1, "start") : Value::from(std::int64_t(0));
    for (const auto& item : iterate(v, "sum")) total = add_values(total, attr ? attribute_of(item, *attr) : item);
    return total;
}

Value min_max(const Value& v, CallArgs& a, bool want_max, const char* what) {
    a.expect_at_most(2, {"case_sensitive", "attribute"}, what);
    const bool cs = arg_bool(a, 0, "case_sensitive", false);
    const auto attr = arg_string(a, 1, "attribute");
    List items = iterate(v, what);
    if (items.empty()) return Value::undefined(std::string("No aggregated item, sequence was empty."));
    Value best = items[0];
    for (const auto& item : items) {
        Value kb = sort_key(best, attr, cs), ki = sort_key(item, attr, cs);
        if (want_max ? less_than(kb, ki) : less_than(ki, kb)) best = item;
    }
    return best;
}
Value f_min(const Value& v, CallArgs& a) { return min_max(v, a, false, "min"); }
Value f_max(const Value& v, CallArgs& a) { return min_max(v, a, true, "max"); }

Value f_wordcount(const Value& v, CallArgs& a) {
    a.expect_at_most(0, {}, "wordcount");
    return Value::from(static_cast<std::int64_t>(split_whitespace(to_str(v), -1).size()));
}

Value f_attr(const Value& v, CallArgs& a) {
    a.expect_at_most(1, {"name"}, "attr");
    const auto name = arg_string(a, 0, "name");
    if (!name) type_error("attr() needs an attribute name");
    return attribute_of(v, *name);
}

const std::map<std::string, FilterFn>& filters() {
    static const std::map<std::string, FilterFn> table = {
        {"trim", f_trim},           {"length", f_length},         {"count", f_length},
        {"tojson", f_tojson},       {"upper", f_upper},           {"lower", f_lower},
        {"title", f_title},         {"capitalize", f_capitalize}, {"default", f_default},
        {"d", f_default},           {"join", f_join},             {"first", f_first},
        {"last", f_last},           {"list", f_list},             {"string", f_string},
        {"int", f_int},             {"float", f_float},           {"replace", f_replace},
        {"items", f_items},         {"map", f_map},               {"select", f_select},
        {"reject", f_reject},       {"selectattr", f_selectattr}, {"rejectattr", f_rejectattr},
        {"safe", f_safe},           {"unique", f_unique},         {"sort", f_sort},
        {"dictsort", f_dictsort},   {"round", f_round},           {"abs", f_abs},
        {"indent", f_indent},       {"center", f_center},         {"reverse", f_reverse},
        {"sum", f_sum},             {"min", f_min},               {"max", f_max},
        {"wordcount", f_wordcount}, {"attr", f_attr},
    };
    return table;
}

} // namespace

Value apply_filter(const std::string& name, const Value& input, CallArgs& args) {
    auto it = filters().find(name);
    if (it == filters().end()) throw TemplateError("No filter named '" + name + "'.");
    return it->second(input, args);
}
bool has_filter(const std::string& name) { return filters().count(name) != 0; }


} // namespace glq::io::jinja
