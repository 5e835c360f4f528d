#include "core/io/json_file.h"

#include "core/common/atomic_file.h"

namespace glq::io {
namespace {

template <typename J>
J parse_as(std::string_view text, const std::string& where) {
    check_json_depth(text, where);
    try {
        return J::parse(text.begin(), text.end());
    } catch (const nlohmann::json::exception& e) {
        // parse_error, and out_of_range.406 for a number beyond a double (1e999).
        throw Error(where, std::string("not valid JSON: ") + e.what());
    }
}

constexpr int kExcerptDepth = 3;

template <typename J>
void excerpt(const J& v, int depth, std::size_t budget, std::string& out) {
    using E = nlohmann::json::error_handler_t;
    if (out.size() > budget) return;
    if (v.is_string()) {
        const auto& s = v.template get_ref<const typename J::string_t&>();
        // A cut may split a UTF-8 sequence: `replace` prints U+FFFD there.
        const J cut = s.size() > budget ? J(s.substr(0, budget)) : v;
        out += cut.dump(-1, ' ', false, E::replace);
        return;
    }
    if (v.is_primitive()) {
        out += v.dump(-1, ' ', false, E::replace);
        return;
    }
    const bool array = v.is_array();
    if (v.empty()) {
        out += array ? "[]" : "{}";
        return;
    }
    if (depth >= kExcerptDepth) {
        out += array ? "[...]" : "{...}";
        return;
    }
    out += array ? '[' : '{';
    bool first = true;
    for (auto it = v.begin(); it != v.end(); ++it) {
        if (out.size() > budget) return;
        if (!first) out += ',';  // dump()'s compact layout
        first = false;
        if (!array) out += J(it.key()).dump(-1, ' ', false, E::replace) + ":";
        excerpt(*it, depth + 1, budget, out);
    }
    out += array ? ']' : '}';
}

template <typename J>
std::string excerpt_of(const J& v, std::size_t max_chars) {
    std::string out;
    excerpt(v, 0, max_chars, out);
    if (out.size() > max_chars) {
        out.resize(max_chars);
        // Do not end inside a UTF-8 sequence.
        while (!out.empty() && (static_cast<unsigned char>(out.back()) & 0xc0) == 0x80) out.pop_back();
        if (!out.empty() && static_cast<unsigned char>(out.back()) >= 0xc0) out.pop_back();
        out += "...";
    }
    return out;
}

} // namespace

void check_json_depth(std::string_view text, const std::string& where, int limit) {
    int depth = 0;
    bool in_string = false;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (in_string) {
            if (c == '\\') ++i;
            else if (c == '"') in_string = false;
            continue;
        }
        if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            if (++depth > limit)
                throw Error(where, "JSON nests arrays and objects more than " + std::to_string(limit) +
                                       " deep (at byte " + std::to_string(i) + "); refusing it");
        } else if (c == ']' || c == '}') {
            --depth;
        }
    }
}

nlohmann::json parse_json(std::string_view text, const std::string& where) {
    return parse_as<nlohmann::json>(text, where);
}

nlohmann::ordered_json parse_ordered_json(std::string_view text, const std::string& where) {
    return parse_as<nlohmann::ordered_json>(text, where);
}

nlohmann::json read_json_file(const std::filesystem::path& path) {
    return parse_json(read_file(path), path.string());
}

std::string json_excerpt(const nlohmann::json& v, std::size_t max_chars) { return excerpt_of(v, max_chars); }
std::string json_excerpt(const nlohmann::ordered_json& v, std::size_t max_chars) { return excerpt_of(v, max_chars); }

} // namespace glq::io
