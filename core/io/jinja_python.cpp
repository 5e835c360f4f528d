#include "core/io/jinja_python.h"

#include <algorithm>
#include <cctype>

#include "core/io/unicode.h"

namespace glq::io::jinja {

void type_error(const std::string& message) { throw TemplateError(message); }

// Python's str.isspace(): the characters strip() and split() treat as blanks.
bool is_py_space(const std::string& cp) {
    std::u32string u = unicode::to_u32(cp);
    if (u.size() != 1) return false;
    const char32_t c = u[0];
    return (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x20) || c == 0x85 || c == 0xa0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f || c == 0x205f || c == 0x3000;
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
            const std::size_t idx = part.size() > 18 ? cur.list->size() : std::stoul(part);
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
                append_bounded(out, repl);
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
        append_bounded(out, s.substr(start, at - start));
        append_bounded(out, repl);
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

Value strings_to_list(const std::vector<std::string>& parts) {
    List items;
    for (const auto& p : parts) items.push_back(Value::from(p));
    return Value::from(std::move(items));
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
            return Value::from(checked_add(x.kind == Kind::Bool ? std::int64_t(x.boolean) : x.integer,
                                           y.kind == Kind::Bool ? std::int64_t(y.boolean) : y.integer));
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


} // namespace glq::io::jinja
