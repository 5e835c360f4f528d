#include "core/io/jinja_value.h"

#include <algorithm>
#include <charconv>
#include <type_traits>
#include <cmath>

#include "core/io/unicode.h"

namespace glq::io::jinja {
namespace {

// Lists and dicts are freed iteratively: the last reference to a 100,000-deep
// [[[...]]] would otherwise free it recursively and overflow the stack. A
// freed container's children are queued instead of freed inside its
// destructor; the outermost free drains the queue.
struct Graveyard {
    std::vector<List*> lists;
    std::vector<Dict*> dicts;
    bool draining = false;
};

Graveyard& graveyard() {
    // Never destroyed: values in static storage may be freed after it would be.
    thread_local Graveyard* g = new Graveyard;
    return *g;
}

template <typename T>
void bury(T* p) {
    Graveyard& g = graveyard();
    try {
        if constexpr (std::is_same_v<T, List>) g.lists.push_back(p);
        else g.dicts.push_back(p);
    } catch (...) {
        delete p;  // no memory to queue it: free it here
        return;
    }
    if (g.draining) return;
    g.draining = true;
    while (!g.lists.empty() || !g.dicts.empty()) {
        if (!g.lists.empty()) {
            List* l = g.lists.back();
            g.lists.pop_back();
            delete l;
        } else {
            Dict* d = g.dicts.back();
            g.dicts.pop_back();
            delete d;
        }
    }
    g.draining = false;
}

// One level of a walk that recurses over a value.
struct ValueLevel {
    static inline thread_local int depth = 0;
    ValueLevel() {
        if (++depth > kMaxValueDepth) {
            --depth;
            throw TemplateError("a list or dict nests more than " + std::to_string(kMaxValueDepth) + " deep");
        }
    }
    ~ValueLevel() { --depth; }
    ValueLevel(const ValueLevel&) = delete;
    ValueLevel& operator=(const ValueLevel&) = delete;
};

} // namespace

void append_bounded(std::string& out, const std::string& s) {
    if (s.size() > kMaxStringBytes - std::min(out.size(), kMaxStringBytes))
        throw TemplateError("the template builds a string longer than the limit of " + std::to_string(kMaxStringBytes) +
                            " bytes");
    out += s;
}

std::size_t bounded_width(std::int64_t n, const char* what) {
    if (n < 0) return 0;
    if (static_cast<std::uint64_t>(n) > kMaxStringBytes)
        throw TemplateError(std::string(what) + " " + std::to_string(n) + " is beyond the template limit of " +
                            std::to_string(kMaxStringBytes));
    return static_cast<std::size_t>(n);
}

Value Value::undefined(std::string name) {
    Value v;
    v.kind = Kind::Undefined;
    v.text = std::move(name);
    return v;
}
Value Value::none() {
    Value v;
    v.kind = Kind::None;
    return v;
}
Value Value::from(bool b) {
    Value v;
    v.kind = Kind::Bool;
    v.boolean = b;
    return v;
}
Value Value::from(std::int64_t i) {
    Value v;
    v.kind = Kind::Int;
    v.integer = i;
    return v;
}
Value Value::from(double d) {
    Value v;
    v.kind = Kind::Float;
    v.number = d;
    return v;
}
Value Value::from(std::string s) {
    Value v;
    v.kind = Kind::String;
    v.text = std::move(s);
    return v;
}
Value Value::from(List items, bool tuple) {
    Value v;
    v.kind = Kind::List;
    v.list = ListPtr(new List(std::move(items)), &bury<List>);
    v.is_tuple = tuple;
    return v;
}
Value Value::from(Dict d) {
    Value v;
    v.kind = Kind::Dict;
    v.dict = DictPtr(new Dict(std::move(d)), &bury<Dict>);
    return v;
}
Value Value::make_namespace(Dict d) {
    Value v = from(std::move(d));
    v.kind = Kind::Namespace;
    return v;
}
Value Value::make_function(Function f) {
    Value v;
    v.kind = Kind::Function;
    v.function = std::make_shared<Function>(std::move(f));
    return v;
}

double Value::as_double() const {
    switch (kind) {
    case Kind::Int: return static_cast<double>(integer);
    case Kind::Float: return number;
    case Kind::Bool: return boolean ? 1.0 : 0.0;
    default: throw TemplateError(std::string("expected a number, got ") + kind_name(*this));
    }
}

bool Value::truthy() const {
    switch (kind) {
    case Kind::Undefined:
    case Kind::None: return false;
    case Kind::Bool: return boolean;
    case Kind::Int: return integer != 0;
    case Kind::Float: return number != 0.0;
    case Kind::String: return !text.empty();
    case Kind::List: return !list->empty();
    case Kind::Dict: return !dict->entries.empty();
    case Kind::Namespace:
    case Kind::Function: return true;
    }
    return false;
}

const Value* Dict::find(const std::string& key) const {
    for (const auto& [k, v] : entries)
        if (k == key) return &v;
    return nullptr;
}
Value* Dict::find(const std::string& key) {
    for (auto& [k, v] : entries)
        if (k == key) return &v;
    return nullptr;
}
void Dict::set(const std::string& key, Value v) {
    if (Value* existing = find(key)) *existing = std::move(v);
    else entries.emplace_back(key, std::move(v));
}

// Non-string keys live under a name no JSON string key starts with.
std::string Dict::key_name(const Value& key) { return key.is_string() ? key.text : "\x1f" + repr(key); }

void Dict::set(const Value& key, Value v) {
    const std::string name = key_name(key);
    if (!key.is_string() && !find(name)) typed_keys.emplace_back(name, key);
    set(name, std::move(v));
}

Value Dict::key_at(std::size_t index) const {
    const std::string& name = entries[index].first;
    if (!name.empty() && name[0] == '\x1f')
        for (const auto& [n, key] : typed_keys)
            if (n == name) return key;
    return Value::from(name);
}

const Value* CallArgs::get(std::size_t index, const char* name) const {
    if (index < positional.size()) return &positional[index];
    for (const auto& [k, v] : keyword)
        if (k == name) return &v;
    return nullptr;
}

void CallArgs::expect_at_most(std::size_t count, std::initializer_list<const char*> names,
                              const char* what) const {
    if (positional.size() > count)
        throw TemplateError(std::string(what) + "() takes at most " + std::to_string(count) +
                            " arguments (" + std::to_string(positional.size()) + " given)");
    for (const auto& kv : keyword) {
        const std::string& k = kv.first;  // a named variable: clang 14 cannot capture a structured binding
        if (std::find_if(names.begin(), names.end(), [&](const char* n) { return k == n; }) == names.end())
            throw TemplateError(std::string(what) + "() got an unexpected keyword argument '" + k + "'");
    }
}

const char* kind_name(const Value& v) {
    switch (v.kind) {
    case Kind::Undefined: return "Undefined";
    case Kind::None: return "NoneType";
    case Kind::Bool: return "bool";
    case Kind::Int: return "int";
    case Kind::Float: return "float";
    case Kind::String: return "str";
    case Kind::List: return v.is_tuple ? "tuple" : "list";
    case Kind::Dict: return "dict";
    case Kind::Namespace: return "Namespace";
    case Kind::Function: return "function";
    }
    return "?";
}

static void overflow(const char* op) {
    throw TemplateError(std::string("integer overflow in '") + op + "' (beyond 64 bits)");
}
std::int64_t checked_add(std::int64_t a, std::int64_t b) {
    std::int64_t r;
    if (__builtin_add_overflow(a, b, &r)) overflow("+");
    return r;
}
std::int64_t checked_sub(std::int64_t a, std::int64_t b) {
    std::int64_t r;
    if (__builtin_sub_overflow(a, b, &r)) overflow("-");
    return r;
}
std::int64_t checked_mul(std::int64_t a, std::int64_t b) {
    std::int64_t r;
    if (__builtin_mul_overflow(a, b, &r)) overflow("*");
    return r;
}

std::string format_float(double d) {
    if (std::isnan(d)) return "nan";
    if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
    if (d == 0.0) return std::signbit(d) ? "-0.0" : "0.0";
    // Shortest round-trip digits, then Python's layout: fixed notation for
    // exponents in [-4, 16), scientific with a two-digit exponent otherwise.
    char buf[64];
    auto res = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
    std::string sci(buf, res.ptr);
    std::string sign;
    if (sci[0] == '-') {
        sign = "-";
        sci.erase(0, 1);
    }
    const auto e_pos = sci.find('e');
    std::string digits = sci.substr(0, e_pos);
    digits.erase(std::remove(digits.begin(), digits.end(), '.'), digits.end());
    const int exponent = std::stoi(sci.substr(e_pos + 1));
    if (exponent >= -4 && exponent < 16) {
        std::string out;
        if (exponent < 0) {
            out = "0." + std::string(static_cast<std::size_t>(-exponent - 1), '0') + digits;
        } else if (static_cast<int>(digits.size()) <= exponent + 1) {
            out = digits + std::string(static_cast<std::size_t>(exponent + 1 - static_cast<int>(digits.size())), '0') + ".0";
        } else {
            out = digits.substr(0, static_cast<std::size_t>(exponent + 1)) + "." +
                  digits.substr(static_cast<std::size_t>(exponent + 1));
        }
        return sign + out;
    }
    std::string mantissa = digits.size() == 1 ? digits : digits.substr(0, 1) + "." + digits.substr(1);
    std::string exp = std::to_string(std::abs(exponent));
    if (exp.size() < 2) exp = "0" + exp;
    return sign + mantissa + (exponent < 0 ? "e-" : "e+") + exp;
}

// Python's repr() of a str: quotes chosen as Python does, and characters
// that are not printable (controls, format characters, separators other
// than the space) escaped as \xNN, \uNNNN or \UNNNNNNNN.
static std::string repr_string(const std::string& s) {
    const bool has_single = s.find('\'') != std::string::npos;
    const bool has_double = s.find('"') != std::string::npos;
    const char quote = (has_single && !has_double) ? '"' : '\'';
    static const char* hex = "0123456789abcdef";
    auto escape = [&](std::string& out, char32_t cp) {
        const int digits = cp < 0x100 ? 2 : cp < 0x10000 ? 4 : 8;
        out += digits == 2 ? "\\x" : digits == 4 ? "\\u" : "\\U";
        for (int shift = (digits - 1) * 4; shift >= 0; shift -= 4) out += hex[(cp >> shift) & 15];
    };
    std::string out(1, quote);
    for (std::size_t i = 0; i < s.size();) {
        const unsigned char c = static_cast<unsigned char>(s[i]);
        if (c >= 0x80) {
            const std::size_t start = i;
            const char32_t cp = unicode::next_code_point(s, i);
            if (unicode::char_class(cp) & (unicode::kOther | unicode::kSeparator)) escape(out, cp);
            else out.append(s, start, i - start);
            continue;
        }
        ++i;
        switch (c) {
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        default:
            if (c == static_cast<unsigned char>(quote)) {
                out += '\\';
                out += static_cast<char>(c);
            } else if (c < 0x20 || c == 0x7f) {
                escape(out, c);
            } else {
                out += static_cast<char>(c);
            }
        }
    }
    out += quote;
    return out;
}

std::string repr(const Value& v) {
    const ValueLevel level;
    switch (v.kind) {
    case Kind::String: return repr_string(v.text);
    case Kind::Undefined: return "Undefined";
    case Kind::List: {
        std::string out = v.is_tuple ? "(" : "[";
        for (std::size_t i = 0; i < v.list->size(); ++i) {
            if (i) out += ", ";
            out += repr((*v.list)[i]);
        }
        if (v.is_tuple && v.list->size() == 1) out += ",";
        return out + (v.is_tuple ? ")" : "]");
    }
    case Kind::Dict: {
        std::string out = "{";
        for (std::size_t i = 0; i < v.dict->entries.size(); ++i) {
            if (i) out += ", ";
            out += repr(v.dict->key_at(i)) + ": " + repr(v.dict->entries[i].second);
        }
        return out + "}";
    }
    default: return to_str(v);
    }
}

std::string to_str(const Value& v) {
    switch (v.kind) {
    case Kind::Undefined: return "";
    case Kind::None: return "None";
    case Kind::Bool: return v.boolean ? "True" : "False";
    case Kind::Int: return std::to_string(v.integer);
    case Kind::Float: return format_float(v.number);
    case Kind::String: return v.text;
    case Kind::List:
    case Kind::Dict: return repr(v);
    case Kind::Namespace: {
        const ValueLevel level;
        return "<Namespace " + repr(Value::from(*v.dict)) + ">";
    }
    case Kind::Function: return "<function>";
    }
    return "";
}

bool equals(const Value& a, const Value& b) {
    if (a.is_number() && b.is_number()) {
        if (a.kind != Kind::Float && b.kind != Kind::Float) {
            auto ai = a.kind == Kind::Bool ? std::int64_t(a.boolean) : a.integer;
            auto bi = b.kind == Kind::Bool ? std::int64_t(b.boolean) : b.integer;
            return ai == bi;
        }
        return a.as_double() == b.as_double();
    }
    if (a.kind != b.kind) return false;
    const ValueLevel level;
    switch (a.kind) {
    case Kind::Undefined:
    case Kind::None: return true;
    case Kind::String: return a.text == b.text;
    case Kind::List:
        if (a.is_tuple != b.is_tuple || a.list->size() != b.list->size()) return false;
        for (std::size_t i = 0; i < a.list->size(); ++i)
            if (!equals((*a.list)[i], (*b.list)[i])) return false;
        return true;
    case Kind::Dict:
        if (a.dict->entries.size() != b.dict->entries.size()) return false;
        for (const auto& [k, item] : a.dict->entries) {
            const Value* other = b.dict->find(k);
            if (!other || !equals(item, *other)) return false;
        }
        return true;
    case Kind::Namespace: return a.dict == b.dict;
    case Kind::Function: return a.function == b.function;
    default: return false;
    }
}

bool less_than(const Value& a, const Value& b) {
    if (a.is_number() && b.is_number()) {
        if (a.kind == Kind::Int && b.kind == Kind::Int) return a.integer < b.integer;
        return a.as_double() < b.as_double();
    }
    if (a.is_string() && b.is_string()) return a.text < b.text;  // UTF-8 byte order = code point order
    if (a.is_list() && b.is_list()) {
        const ValueLevel level;
        const auto& x = *a.list;
        const auto& y = *b.list;
        for (std::size_t i = 0; i < x.size() && i < y.size(); ++i) {
            if (!equals(x[i], y[i])) return less_than(x[i], y[i]);
        }
        return x.size() < y.size();
    }
    throw TemplateError(std::string("'<' not supported between instances of '") + kind_name(a) + "' and '" +
                        kind_name(b) + "'");
}

static void json_string(std::string& out, const std::string& s) {
    out += '"';
    for (unsigned char c : s) {
        switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        case '\b': out += "\\b"; break;
        case '\f': out += "\\f"; break;
        default:
            if (c < 0x20) {
                static const char* hex = "0123456789abcdef";
                out += "\\u00";
                out += hex[c >> 4];
                out += hex[c & 15];
            } else {
                out += static_cast<char>(c);
            }
        }
    }
    out += '"';
}

namespace {
struct JsonWriter {
    std::optional<std::string> indent;
    bool sort_keys;
    std::string item_sep, key_sep;
    std::string out;

    void newline(int depth) {
        out += '\n';
        for (int i = 0; i < depth; ++i) append_bounded(out, *indent);
    }

    void write(const Value& v, int depth) {
        const ValueLevel level;
        switch (v.kind) {
        case Kind::None: out += "null"; return;
        case Kind::Bool: out += v.boolean ? "true" : "false"; return;
        case Kind::Int: out += std::to_string(v.integer); return;
        case Kind::Float:
            if (std::isnan(v.number)) out += "NaN";
            else if (std::isinf(v.number)) out += v.number > 0 ? "Infinity" : "-Infinity";
            else out += format_float(v.number);
            return;
        case Kind::String: json_string(out, v.text); return;
        case Kind::List: {
            if (v.list->empty()) {
                out += "[]";
                return;
            }
            out += '[';
            for (std::size_t i = 0; i < v.list->size(); ++i) {
                if (i) out += item_sep;
                if (indent) newline(depth + 1);
                write((*v.list)[i], depth + 1);
            }
            if (indent) newline(depth);
            out += ']';
            return;
        }
        case Kind::Dict: {
            if (v.dict->entries.empty()) {
                out += "{}";
                return;
            }
            // json.dumps writes non-string keys as strings: 1 -> "1", True -> "true", None -> "null".
            std::vector<std::pair<std::string, const Value*>> items;
            for (std::size_t i = 0; i < v.dict->entries.size(); ++i) {
                const Value key = v.dict->key_at(i);
                std::string name = key.is_string() ? key.text
                                   : key.kind == Kind::Bool ? (key.boolean ? "true" : "false")
                                   : key.is_none() ? "null" : to_str(key);
                items.emplace_back(std::move(name), &v.dict->entries[i].second);
            }
            if (sort_keys)
                std::stable_sort(items.begin(), items.end(), [](auto& x, auto& y) { return x.first < y.first; });
            out += '{';
            for (std::size_t i = 0; i < items.size(); ++i) {
                if (i) out += item_sep;
                if (indent) newline(depth + 1);
                json_string(out, items[i].first);
                out += key_sep;
                write(*items[i].second, depth + 1);
            }
            if (indent) newline(depth);
            out += '}';
            return;
        }
        default:
            throw TemplateError(std::string("Object of type ") + kind_name(v) + " is not JSON serializable");
        }
    }
};
} // namespace

std::string to_json(const Value& v, std::optional<std::string> indent, bool sort_keys,
                    std::optional<std::pair<std::string, std::string>> separators) {
    JsonWriter w{indent, sort_keys, indent ? "," : ", ", ": ", {}};
    if (separators) {
        w.item_sep = separators->first;
        w.key_sep = separators->second;
    }
    w.write(v, 0);
    return w.out;
}

template <typename J>
static Value convert(const J& j) {
    const ValueLevel level;
    switch (j.type()) {
    case nlohmann::json::value_t::null: return Value::none();
    case nlohmann::json::value_t::boolean: return Value::from(j.template get<bool>());
    case nlohmann::json::value_t::number_integer: return Value::from(j.template get<std::int64_t>());
    case nlohmann::json::value_t::number_unsigned:
        return Value::from(static_cast<std::int64_t>(j.template get<std::uint64_t>()));
    case nlohmann::json::value_t::number_float: return Value::from(j.template get<double>());
    case nlohmann::json::value_t::string: return Value::from(j.template get<std::string>());
    case nlohmann::json::value_t::array: {
        List items;
        items.reserve(j.size());
        for (const auto& e : j) items.push_back(convert(e));
        return Value::from(std::move(items));
    }
    case nlohmann::json::value_t::object: {
        Dict d;
        for (auto it = j.begin(); it != j.end(); ++it) d.entries.emplace_back(it.key(), convert(it.value()));
        return Value::from(std::move(d));
    }
    default: return Value::none();
    }
}

Value from_json(const nlohmann::ordered_json& j) { return convert(j); }
Value from_json(const nlohmann::json& j) { return convert(j); }

static std::size_t utf8_length(unsigned char lead) {
    if (lead < 0x80) return 1;
    if ((lead >> 5) == 0x6) return 2;
    if ((lead >> 4) == 0xe) return 3;
    if ((lead >> 3) == 0x1e) return 4;
    return 1;  // a stray continuation byte counts as one character
}

std::vector<std::string> code_points(const std::string& s) {
    std::vector<std::string> out;
    for (std::size_t i = 0; i < s.size();) {
        std::size_t n = std::min(utf8_length(static_cast<unsigned char>(s[i])), s.size() - i);
        out.push_back(s.substr(i, n));
        i += n;
    }
    return out;
}

std::size_t code_point_count(const std::string& s) {
    std::size_t n = 0;
    for (unsigned char c : s)
        if ((c & 0xc0) != 0x80) ++n;
    return n;
}

} // namespace glq::io::jinja
