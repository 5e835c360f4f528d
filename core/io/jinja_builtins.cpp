#include "core/io/jinja_builtins.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>
#include <unordered_set>

#include "core/io/unicode.h"

namespace glq::io::jinja {
namespace {

using FilterFn = Value (*)(const Value&, CallArgs&);
using TestFn = bool (*)(const Value&, CallArgs&);

[[noreturn]] void type_error(const std::string& message) { throw TemplateError(message); }

bool is_py_space(const std::string& cp) {
    if (cp.size() != 1) return cp == "\xc2\x85" || cp == "\xc2\xa0";
    unsigned char c = static_cast<unsigned char>(cp[0]);
    return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f);
}

std::string ascii_upper(std::string s) {
    for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return s;
}
std::string ascii_lower(std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

const std::string& expect_string(const Value& v, const char* what) {
    if (!v.is_string()) type_error(std::string(what) + " expects a string, got " + kind_name(v));
    return v.text;
}

std::int64_t expect_int(const Value& v, const char* what) {
    if (v.kind == Kind::Int) return v.integer;
    if (v.kind == Kind::Bool) return v.boolean ? 1 : 0;
    type_error(std::string(what) + " expects an integer, got " + kind_name(v));
}

// Python's iter(): the items a for loop or a filter sees.
List iterate(const Value& v, const char* what) {
    switch (v.kind) {
    case Kind::Undefined: return {};
    case Kind::List: return *v.list;
    case Kind::Dict: {
        List keys;
        for (std::size_t i = 0; i < v.dict->entries.size(); ++i) keys.push_back(v.dict->key_at(i));
        return keys;
    }
    case Kind::String: {
        List chars;
        for (auto& cp : code_points(v.text)) chars.push_back(Value::from(cp));
        return chars;
    }
    default: type_error(std::string(what) + ": '" + kind_name(v) + "' object is not iterable");
    }
}

std::int64_t length_of(const Value& v) {
    switch (v.kind) {
    case Kind::Undefined: return 0;
    case Kind::String: return static_cast<std::int64_t>(code_point_count(v.text));
    case Kind::List: return static_cast<std::int64_t>(v.list->size());
    case Kind::Dict: return static_cast<std::int64_t>(v.dict->entries.size());
    default: type_error(std::string("object of type '") + kind_name(v) + "' has no len()");
    }
}

// jinja2's environment.getitem/getattr for `attribute=` arguments: dotted
// paths and integer parts.
Value attribute_of(const Value& item, const std::string& path) {
    Value cur = item;
    std::size_t start = 0;
    while (start <= path.size()) {
        std::size_t dot = path.find('.', start);
        std::string part = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
        if (cur.is_dict()) {
            const Value* found = cur.dict->find(part);
            cur = found ? *found : Value::undefined("'dict object' has no attribute '" + part + "'");
        } else if (cur.is_list() && !part.empty() && std::all_of(part.begin(), part.end(), ::isdigit)) {
            std::size_t idx = std::stoul(part);
            cur = idx < cur.list->size() ? (*cur.list)[idx] : Value::undefined();
        } else if (cur.is_undefined()) {
            return cur;
        } else {
            cur = Value::undefined(std::string("'") + kind_name(cur) + " object' has no attribute '" + part + "'");
        }
        if (dot == std::string::npos) break;
        start = dot + 1;
    }
    return cur;
}

bool arg_bool(const CallArgs& a, std::size_t i, const char* name, bool fallback) {
    const Value* v = a.get(i, name);
    return v ? v->truthy() : fallback;
}

std::optional<std::string> arg_string(const CallArgs& a, std::size_t i, const char* name) {
    const Value* v = a.get(i, name);
    if (!v || v->is_none() || v->is_undefined()) return std::nullopt;
    return expect_string(*v, name);
}

// ---- string helpers ----------------------------------------------------------

std::vector<std::string> split_whitespace(const std::string& s, std::int64_t maxsplit) {
    std::vector<std::string> out;
    auto cps = code_points(s);
    std::size_t i = 0;
    while (i < cps.size()) {
        while (i < cps.size() && is_py_space(cps[i])) ++i;
        if (i == cps.size()) break;
        if (maxsplit >= 0 && static_cast<std::int64_t>(out.size()) == maxsplit) {
            // The remainder, without its trailing whitespace (as Python's split()).
            std::size_t end = cps.size();
            while (end > i && is_py_space(cps[end - 1])) --end;
            std::string rest;
            for (std::size_t k = i; k < end; ++k) rest += cps[k];
            out.push_back(rest);
            return out;
        }
        std::string word;
        while (i < cps.size() && !is_py_space(cps[i])) word += cps[i++];
        out.push_back(word);
    }
    return out;
}

std::vector<std::string> split_on(const std::string& s, const std::string& sep, std::int64_t maxsplit) {
    if (sep.empty()) type_error("empty separator");
    std::vector<std::string> out;
    std::size_t start = 0;
    for (;;) {
        if (maxsplit >= 0 && static_cast<std::int64_t>(out.size()) == maxsplit) break;
        std::size_t at = s.find(sep, start);
        if (at == std::string::npos) break;
        out.push_back(s.substr(start, at - start));
        start = at + sep.size();
    }
    out.push_back(s.substr(start));
    return out;
}

std::vector<std::string> rsplit_on(const std::string& s, const std::string& sep, std::int64_t maxsplit) {
    if (sep.empty()) type_error("empty separator");
    std::vector<std::string> out;
    std::size_t end = s.size();
    for (;;) {
        if (maxsplit >= 0 && static_cast<std::int64_t>(out.size()) == maxsplit) break;
        if (end < sep.size()) break;
        std::size_t at = s.rfind(sep, end - sep.size());
        if (at == std::string::npos) break;
        out.push_back(s.substr(at + sep.size(), end - at - sep.size()));
        end = at;
    }
    out.push_back(s.substr(0, end));
    std::reverse(out.begin(), out.end());
    return out;
}

std::string replace_all(const std::string& s, const std::string& old, const std::string& repl, std::int64_t count) {
    std::string out;
    if (old.empty()) {
        // Python inserts the replacement between every character.
        auto cps = code_points(s);
        std::int64_t done = 0;
        for (std::size_t i = 0; i <= cps.size(); ++i) {
            if (count < 0 || done < count) {
                out += repl;
                ++done;
            }
            if (i < cps.size()) out += cps[i];
        }
        return out;
    }
    std::size_t start = 0;
    std::int64_t done = 0;
    for (;;) {
        std::size_t at = (count >= 0 && done >= count) ? std::string::npos : s.find(old, start);
        if (at == std::string::npos) break;
        out += s.substr(start, at - start) + repl;
        start = at + old.size();
        ++done;
    }
    return out + s.substr(start);
}

// Python's str.title(): a letter after a non-letter is upper-cased, others lower-cased.
std::string py_title(const std::string& s) {
    std::string out;
    bool prev_letter = false;
    for (char ch : s) {
        unsigned char c = static_cast<unsigned char>(ch);
        bool letter = std::isalpha(c) || c >= 0x80;
        if (c < 0x80) out += static_cast<char>(prev_letter ? std::tolower(c) : std::toupper(c));
        else out += ch;
        prev_letter = letter;
    }
    return out;
}

std::string py_capitalize(const std::string& s) {
    if (s.empty()) return s;
    std::string out = ascii_lower(s);
    out[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(out[0])));
    return out;
}

bool starts_or_ends(const Value& self, CallArgs& a, bool starts, const char* what) {
    const Value* arg = a.get(0, "prefix");
    if (!arg) type_error(std::string(what) + "() takes at least 1 argument (0 given)");
    std::vector<std::string> candidates;
    if (arg->is_list()) {
        for (const auto& v : *arg->list) candidates.push_back(expect_string(v, what));
    } else {
        candidates.push_back(expect_string(*arg, what));
    }
    const std::string& s = self.text;
    for (const auto& c : candidates) {
        if (c.size() > s.size()) continue;
        if (starts ? s.compare(0, c.size(), c) == 0 : s.compare(s.size() - c.size(), c.size(), c) == 0) return true;
    }
    return false;
}

Value strings_to_list(const std::vector<std::string>& parts) {
    List items;
    for (const auto& p : parts) items.push_back(Value::from(p));
    return Value::from(std::move(items));
}

// ---- filters -----------------------------------------------------------------

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
        else indent = std::string(static_cast<std::size_t>(std::max<std::int64_t>(0, expect_int(*i, "tojson indent"))), ' ');
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
        if (!first) out += sep;
        first = false;
        out += to_str(attr ? attribute_of(item, *attr) : item);
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

// markupsafe.escape.
std::string html_escape(const std::string& s) {
    std::string out;
    for (char c : s) {
        switch (c) {
        case '&': out += "&amp;"; break;
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        case '"': out += "&#34;"; break;
        case '\'': out += "&#39;"; break;
        default: out += c;
        }
    }
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
        indentation = w->is_string() ? w->text : std::string(static_cast<std::size_t>(std::max<std::int64_t>(0, expect_int(*w, "indent width"))), ' ');
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
        if (blank || !lines[i].empty()) out += indentation;
        out += lines[i];
    }
    if (first) out = indentation + out;
    return Value::from(out);
}

Value f_center(const Value& v, CallArgs& a) {
    a.expect_at_most(1, {"width"}, "center");
    const std::int64_t width = a.get(0, "width") ? expect_int(*a.get(0, "width"), "center width") : 80;
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

// ---- tests -------------------------------------------------------------------

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
bool t_in(const Value& v, CallArgs& a);
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

namespace {
bool t_in(const Value& v, CallArgs& a) { return contains(test_arg(a, "in"), v); }
} // namespace

bool contains(const Value& container, const Value& item) {
    switch (container.kind) {
    case Kind::Undefined: return false;
    case Kind::String:
        if (!item.is_string())
            type_error(std::string("'in <string>' requires string as left operand, not ") + kind_name(item));
        return container.text.find(item.text) != std::string::npos;
    case Kind::List:
        return std::any_of(container.list->begin(), container.list->end(),
                           [&](const Value& e) { return equals(e, item); });
    case Kind::Dict: return container.dict->find(item) != nullptr;
    default: type_error(std::string("argument of type '") + kind_name(container) + "' is not iterable");
    }
}

Value add_values(const Value& x, const Value& y) {
    if (x.is_number() && y.is_number()) {
        if (x.kind != Kind::Float && y.kind != Kind::Float)
            return Value::from((x.kind == Kind::Bool ? std::int64_t(x.boolean) : x.integer) +
                               (y.kind == Kind::Bool ? std::int64_t(y.boolean) : y.integer));
        return Value::from(x.as_double() + y.as_double());
    }
    if (x.is_string() && y.is_string()) {
        if (x.markup == y.markup) {
            Value out = Value::from(x.text + y.text);
            out.markup = x.markup;
            return out;
        }
        // Markup + str escapes the plain side, and the result stays Markup.
        Value out = Value::from((x.markup ? x.text : html_escape(x.text)) + (y.markup ? y.text : html_escape(y.text)));
        out.markup = true;
        return out;
    }
    if (x.is_list() && y.is_list() && x.is_tuple == y.is_tuple) {
        List items = *x.list;
        items.insert(items.end(), y.list->begin(), y.list->end());
        return Value::from(std::move(items), x.is_tuple);
    }
    if (x.is_string() || x.is_list())
        type_error(std::string("can only concatenate ") + kind_name(x) + " (not \"" + kind_name(y) + "\") to " + kind_name(x));
    type_error(std::string("unsupported operand type(s) for +: '") + kind_name(x) + "' and '" + kind_name(y) + "'");
}

Value apply_filter(const std::string& name, const Value& input, CallArgs& args) {
    auto it = filters().find(name);
    if (it == filters().end()) throw TemplateError("No filter named '" + name + "'.");
    return it->second(input, args);
}
bool has_filter(const std::string& name) { return filters().count(name) != 0; }

bool apply_test(const std::string& name, const Value& input, CallArgs& args) {
    auto it = tests().find(name);
    if (it == tests().end()) throw TemplateError("No test named '" + name + "' found.");
    return it->second(input, args);
}
bool has_test(const std::string& name) { return tests().count(name) != 0; }

std::string py_strip(const std::string& s, const std::optional<std::string>& chars, bool left, bool right) {
    auto cps = code_points(s);
    std::vector<std::string> set;
    if (chars) set = code_points(*chars);
    auto strip_it = [&](const std::string& cp) {
        return chars ? std::find(set.begin(), set.end(), cp) != set.end() : is_py_space(cp);
    };
    std::size_t b = 0, e = cps.size();
    if (left)
        while (b < e && strip_it(cps[b])) ++b;
    if (right)
        while (e > b && strip_it(cps[e - 1])) --e;
    std::string out;
    for (std::size_t i = b; i < e; ++i) out += cps[i];
    return out;
}

namespace {

// Python's str.format for plain replacement fields: {}, {0}, {name}, {{ and }}.
std::string py_format(const std::string& fmt, const CallArgs& a) {
    std::string out;
    std::size_t auto_index = 0;
    for (std::size_t i = 0; i < fmt.size(); ++i) {
        const char c = fmt[i];
        if (c == '}') {
            if (i + 1 < fmt.size() && fmt[i + 1] == '}') ++i;
            else type_error("Single '}' encountered in format string");
            out += '}';
            continue;
        }
        if (c != '{') {
            out += c;
            continue;
        }
        if (i + 1 < fmt.size() && fmt[i + 1] == '{') {
            out += '{';
            ++i;
            continue;
        }
        const std::size_t close = fmt.find('}', i);
        if (close == std::string::npos) type_error("Single '{' encountered in format string");
        const std::string field = fmt.substr(i + 1, close - i - 1);
        if (field.find_first_of(":!.[") != std::string::npos)
            type_error("str.format() with format specs or attribute lookups is not supported: {" + field + "}");
        const Value* arg = nullptr;
        if (field.empty()) {
            arg = auto_index < a.positional.size() ? &a.positional[auto_index] : nullptr;
            ++auto_index;
        } else if (std::all_of(field.begin(), field.end(), ::isdigit)) {
            std::size_t idx = std::stoul(field);
            arg = idx < a.positional.size() ? &a.positional[idx] : nullptr;
        } else {
            for (const auto& [k, v] : a.keyword)
                if (k == field) arg = &v;
            if (!arg) type_error("'" + field + "'");
        }
        if (!arg) type_error("Replacement index " + (field.empty() ? std::to_string(auto_index - 1) : field) +
                             " out of range for positional args tuple");
        out += to_str(*arg);
        i = close;
    }
    return out;
}

Value string_method(const Value& self, const std::string& name, CallArgs& a) {
    const std::string& s = self.text;
    if (name == "strip" || name == "lstrip" || name == "rstrip") {
        a.expect_at_most(1, {"chars"}, name.c_str());
        return Value::from(py_strip(s, arg_string(a, 0, "chars"), name != "rstrip", name != "lstrip"));
    }
    if (name == "startswith" || name == "endswith") return Value::from(starts_or_ends(self, a, name == "startswith", name.c_str()));
    if (name == "split" || name == "rsplit") {
        a.expect_at_most(2, {"sep", "maxsplit"}, name.c_str());
        const auto sep = arg_string(a, 0, "sep");
        const std::int64_t maxsplit = a.get(1, "maxsplit") ? expect_int(*a.get(1, "maxsplit"), "maxsplit") : -1;
        if (!sep) {
            if (name == "rsplit" && maxsplit >= 0) type_error("rsplit() without a separator and with maxsplit is not supported");
            return strings_to_list(split_whitespace(s, maxsplit));
        }
        return strings_to_list(name == "split" ? split_on(s, *sep, maxsplit) : rsplit_on(s, *sep, maxsplit));
    }
    if (name == "splitlines") {
        a.expect_at_most(0, {}, "splitlines");
        auto parts = split_on(s, "\n", -1);
        if (!parts.empty() && parts.back().empty()) parts.pop_back();
        return strings_to_list(parts);
    }
    if (name == "replace") {
        a.expect_at_most(3, {"old", "new", "count"}, "replace");
        if (a.positional.size() < 2) type_error("replace() takes at least 2 arguments");
        const std::int64_t count = a.positional.size() > 2 ? expect_int(a.positional[2], "replace count") : -1;
        return Value::from(replace_all(s, expect_string(a.positional[0], "replace"),
                                       expect_string(a.positional[1], "replace"), count));
    }
    if (name == "upper") return Value::from(ascii_upper(s));
    if (name == "lower") return Value::from(unicode::lowercase(s));
    if (name == "title") return Value::from(py_title(s));
    if (name == "capitalize") return Value::from(py_capitalize(s));
    if (name == "find" || name == "rfind" || name == "index" || name == "rindex" || name == "count") {
        a.expect_at_most(1, {}, name.c_str());
        if (a.positional.empty()) type_error(name + "() takes at least 1 argument");
        const std::string& sub = expect_string(a.positional[0], name.c_str());
        if (name == "count") {
            if (sub.empty()) return Value::from(static_cast<std::int64_t>(code_point_count(s) + 1));
            std::int64_t n = 0;
            for (std::size_t at = s.find(sub); at != std::string::npos; at = s.find(sub, at + sub.size())) ++n;
            return Value::from(n);
        }
        std::size_t at = (name == "find" || name == "index") ? s.find(sub) : s.rfind(sub);
        if (at == std::string::npos) {
            if (name == "index" || name == "rindex") type_error("substring not found");
            return Value::from(std::int64_t(-1));
        }
        return Value::from(static_cast<std::int64_t>(code_point_count(s.substr(0, at))));
    }
    if (name == "join") {
        a.expect_at_most(1, {}, "join");
        if (a.positional.empty()) type_error("join() takes exactly one argument");
        std::string out;
        bool first = true;
        for (const auto& item : iterate(a.positional[0], "join")) {
            if (!first) out += s;
            first = false;
            out += expect_string(item, "join");
        }
        return Value::from(out);
    }
    if (name == "format") return Value::from(py_format(s, a));
    if (name == "isdigit" || name == "isalpha" || name == "isalnum" || name == "isspace" || name == "islower" ||
        name == "isupper") {
        if (s.empty()) return Value::from(false);
        bool ok = true;
        for (unsigned char c : s) {
            if (name == "isdigit") ok = ok && std::isdigit(c);
            else if (name == "isalpha") ok = ok && std::isalpha(c);
            else if (name == "isalnum") ok = ok && std::isalnum(c);
            else if (name == "isspace") ok = ok && std::isspace(c);
        }
        if (name == "islower") ok = ascii_lower(s) == s && ascii_upper(s) != s;
        if (name == "isupper") ok = ascii_upper(s) == s && ascii_lower(s) != s;
        return Value::from(ok);
    }
    type_error("'str' object has no attribute '" + name + "'");
}

Value dict_method(const Value& self, const std::string& name, CallArgs& a) {
    const Dict& d = *self.dict;
    if (name == "items" || name == "keys" || name == "values") {
        a.expect_at_most(0, {}, name.c_str());
        List out;
        for (std::size_t i = 0; i < d.entries.size(); ++i) {
            if (name == "items") out.push_back(Value::from(List{d.key_at(i), d.entries[i].second}, true));
            else if (name == "keys") out.push_back(d.key_at(i));
            else out.push_back(d.entries[i].second);
        }
        return Value::from(std::move(out));
    }
    if (name == "get") {
        a.expect_at_most(2, {}, "get");
        if (a.positional.empty()) type_error("get expected at least 1 argument, got 0");
        const Value& key = a.positional[0];
        const Value* found = d.find(key);
        if (found) return *found;
        return a.positional.size() > 1 ? a.positional[1] : Value::none();
    }
    type_error("'dict' object has no attribute '" + name + "'");
}

Value list_method(const Value& self, const std::string& name, CallArgs& a) {
    const List& l = *self.list;
    if (name == "index" || name == "count") {
        a.expect_at_most(1, {}, name.c_str());
        if (a.positional.empty()) type_error(name + "() takes exactly one argument");
        std::int64_t n = 0;
        for (std::size_t i = 0; i < l.size(); ++i) {
            if (!equals(l[i], a.positional[0])) continue;
            if (name == "index") return Value::from(static_cast<std::int64_t>(i));
            ++n;
        }
        if (name == "index") type_error("value is not in list");
        return Value::from(n);
    }
    type_error(std::string("'") + kind_name(self) + "' object has no attribute '" + name + "'");
}

const std::unordered_set<std::string> kStringMethods = {
    "strip", "lstrip", "rstrip", "startswith", "endswith", "split", "rsplit", "splitlines", "replace", "upper",
    "lower", "title", "capitalize", "find", "rfind", "index", "rindex", "count", "join", "isdigit", "isalpha",
    "isalnum", "isspace", "islower", "isupper", "format"};
const std::unordered_set<std::string> kDictMethods = {"items", "keys", "values", "get"};
const std::unordered_set<std::string> kListMethods = {"index", "count"};
// What ImmutableSandboxedEnvironment refuses: templates must not mutate their inputs.
const std::unordered_set<std::string> kMutatingListMethods = {"append", "extend", "insert", "pop", "remove",
                                                              "reverse", "sort", "clear"};
const std::unordered_set<std::string> kMutatingDictMethods = {"update", "pop", "popitem", "setdefault", "clear"};

} // namespace

std::optional<Value> bound_method(const Value& self, const std::string& name) {
    using Impl = Value (*)(const Value&, const std::string&, CallArgs&);
    Impl impl = nullptr;
    if (self.is_string() && kStringMethods.count(name)) impl = string_method;
    else if (self.is_dict() && kDictMethods.count(name)) impl = dict_method;
    else if (self.is_list() && kListMethods.count(name)) impl = list_method;
    else if ((self.is_list() && kMutatingListMethods.count(name)) || (self.is_dict() && kMutatingDictMethods.count(name)))
        throw TemplateError("access to attribute '" + name + "' of '" + kind_name(self) + "' object is unsafe.");
    if (!impl) return std::nullopt;
    return Value::make_function([self, name, impl](CallArgs& a) { return impl(self, name, a); });
}

} // namespace glq::io::jinja
