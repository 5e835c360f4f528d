// The str, dict and list methods chat templates call (content.strip(),
// tool.items(), ...). Mutating methods are refused, as transformers'
// ImmutableSandboxedEnvironment refuses them.

#include <algorithm>
#include <cctype>
#include <unordered_set>

#include "core/io/jinja_builtins.h"
#include "core/io/jinja_python.h"
#include "core/io/unicode.h"

namespace glq::io::jinja {
namespace {

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
            const std::size_t idx = field.size() > 9 ? a.positional.size() : std::stoul(field);
            arg = idx < a.positional.size() ? &a.positional[idx] : nullptr;
        } else {
            for (const auto& [k, v] : a.keyword)
                if (k == field) arg = &v;
            if (!arg) type_error("'" + field + "'");
        }
        if (!arg) type_error("Replacement index " + (field.empty() ? std::to_string(auto_index - 1) : field) +
                             " out of range for positional args tuple");
        append_bounded(out, to_str(*arg));
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
            if (!first) append_bounded(out, s);
            first = false;
            append_bounded(out, expect_string(item, "join"));
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
