#include "core/io/tokenizer_post_processor.h"

#include "core/io/tokenizer_json_util.h"

namespace glq::io {

using nlohmann::json;

namespace {

// The single-sequence template as a list of id runs; an empty optional
// stands for the sequence itself.
struct Template final : PostProcessor {
    std::vector<std::optional<std::vector<int32_t>>> items;
    void process(std::vector<int32_t>& ids) const override {
        std::vector<int32_t> out;
        out.reserve(ids.size() + 4);
        for (const auto& item : items) {
            if (item) out.insert(out.end(), item->begin(), item->end());
            else out.insert(out.end(), ids.begin(), ids.end());
        }
        ids = std::move(out);
    }
};

struct Identity final : PostProcessor {
    void process(std::vector<int32_t>&) const override {}
};

struct Sequence final : PostProcessor {
    std::vector<std::unique_ptr<PostProcessor>> steps;
    void process(std::vector<int32_t>& ids) const override {
        for (const auto& s : steps) s->process(ids);
    }
};

std::unique_ptr<PostProcessor> parse_template(const json& j, const std::string& where) {
    auto t = std::make_unique<Template>();
    const json& single = tokjson::require(j, "single", where, "TemplateProcessing");
    const json specials = j.value("special_tokens", json::object());
    for (const auto& item : single) {
        if (item.contains("Sequence")) {
            t->items.emplace_back(std::nullopt);
        } else if (item.contains("SpecialToken")) {
            const std::string name = item["SpecialToken"].at("id").get<std::string>();
            if (!specials.contains(name) || !specials[name].contains("ids"))
                throw Error(where, "TemplateProcessing uses special token \"" + name + "\" that it does not define");
            t->items.emplace_back(specials[name]["ids"].get<std::vector<int32_t>>());
        } else {
            throw Error(where, "TemplateProcessing has an item that is neither Sequence nor SpecialToken");
        }
    }
    return t;
}

// RobertaProcessing / BertProcessing: {"cls": ["<s>", 0], "sep": ["</s>", 2]}.
std::unique_ptr<PostProcessor> parse_cls_sep(const json& j, const std::string& where, const std::string& type) {
    auto t = std::make_unique<Template>();
    const auto cls = tokjson::require(j, "cls", where, type).at(1).get<int32_t>();
    const auto sep = tokjson::require(j, "sep", where, type).at(1).get<int32_t>();
    t->items.emplace_back(std::vector<int32_t>{cls});
    t->items.emplace_back(std::nullopt);
    t->items.emplace_back(std::vector<int32_t>{sep});
    return t;
}

} // namespace

std::unique_ptr<PostProcessor> parse_post_processor(const json& j, const std::string& where, int depth) {
    if (j.is_null()) return nullptr;
    const std::string type = tokjson::type_of(j, where, "post_processor");
    if (type == "TemplateProcessing") return parse_template(j, where);
    if (type == "RobertaProcessing" || type == "BertProcessing") return parse_cls_sep(j, where, type);
    if (type == "ByteLevel") return std::make_unique<Identity>();
    if (type == "Sequence") {
        tokjson::check_sequence_depth(depth, where, "post_processor");
        auto s = std::make_unique<Sequence>();
        for (const auto& step : tokjson::require(j, "processors", where, "Sequence post_processor"))
            if (auto p = parse_post_processor(step, where, depth + 1)) s->steps.push_back(std::move(p));
        return s;
    }
    throw Error(where, "post_processor \"" + type + "\" is not supported");
}

} // namespace glq::io
