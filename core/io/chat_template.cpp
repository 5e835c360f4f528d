#include "core/io/chat_template.h"

#include "core/common/atomic_file.h"
#include "core/common/error.h"
#include "core/io/jinja_interpreter.h"
#include "core/io/jinja_lexer.h"
#include "core/io/jinja_parser.h"
#include "core/io/json_file.h"

namespace glq::io {

struct ChatTemplate::Impl {
    std::string source;
    std::string where;
    jinja::Body body;
    jinja::RenderOptions options;
};

ChatTemplate::ChatTemplate(const std::string& source, const std::string& where) : impl_(std::make_unique<Impl>()) {
    impl_->source = source;
    impl_->where = where;
    try {
        // transformers' environment: trim_blocks and lstrip_blocks on.
        impl_->body = jinja::parse(jinja::tokenize(source, jinja::LexerOptions{}));
    } catch (const jinja::SyntaxError& e) {
        throw Error(where, "line " + std::to_string(e.line) + ": " + e.what());
    } catch (const std::exception& e) {
        // Not expected: still one clear error naming the template.
        throw Error(where, std::string("cannot parse the template: ") + e.what());
    }
}

ChatTemplate::ChatTemplate(ChatTemplate&&) noexcept = default;
ChatTemplate& ChatTemplate::operator=(ChatTemplate&&) noexcept = default;
ChatTemplate::~ChatTemplate() = default;

const std::string& ChatTemplate::source() const { return impl_->source; }

void ChatTemplate::set_clock(std::function<std::tm()> now) { impl_->options.now = std::move(now); }

namespace {

// bos_token/eos_token are a string, an AddedToken dict {"content": ...}, or null.
std::string special_token(const nlohmann::ordered_json& config, const char* key, const std::string& where) {
    auto it = config.find(key);
    if (it == config.end() || it->is_null()) return {};
    if (it->is_string()) return it->get<std::string>();
    if (it->is_object()) {
        auto content = it->find("content");
        if (content != it->end() && content->is_string()) return content->get<std::string>();
    }
    throw Error(where, std::string(key) + " must be a string or an object with a \"content\" string");
}

std::string template_source(const nlohmann::ordered_json& config, const std::string& where) {
    auto it = config.find("chat_template");
    if (it == config.end() || it->is_null()) throw Error(where, "no chat_template in this tokenizer config");
    if (it->is_string()) return it->get<std::string>();
    if (it->is_array()) {
        std::string names;
        for (const auto& entry : *it) {
            if (!entry.is_object() || !entry.contains("name") || !entry.contains("template") ||
                !entry["name"].is_string() || !entry["template"].is_string())
                throw Error(where, "chat_template list entries must be {\"name\": ..., \"template\": ...} strings");
            if (entry["name"] == "default") return entry["template"].get<std::string>();
            names += (names.empty() ? "" : ", ") + entry["name"].get<std::string>();
        }
        throw Error(where, "chat_template lists no \"default\" template (it has: " + names + ")");
    }
    throw Error(where, "chat_template must be a string or a list of named templates");
}

} // namespace

ChatTemplate ChatTemplate::from_tokenizer_config(const std::filesystem::path& tokenizer_config_json) {
    const std::string where = tokenizer_config_json.string();
    const std::string text = read_file(tokenizer_config_json);
    const nlohmann::ordered_json config = parse_ordered_json(text, where);
    if (!config.is_object()) throw Error(where, "expected a JSON object");
    return with_file_errors(where, "tokenizer_config.json", [&] { return from_config(config, where); });
}

ChatTemplate ChatTemplate::from_config(const nlohmann::ordered_json& config, const std::string& where) {
    ChatTemplate t(template_source(config, where), where + " (chat_template)");
    t.bos_token = special_token(config, "bos_token", where);
    t.eos_token = special_token(config, "eos_token", where);
    for (const char* key : {"unk_token", "sep_token", "pad_token", "cls_token", "mask_token"}) {
        if (config.contains(key) && !config[key].is_null())
            t.other_special_tokens.emplace_back(key, special_token(config, key, where));
    }
    return t;
}

std::string ChatTemplate::render(const std::vector<ChatMessage>& messages, bool add_generation_prompt) const {
    nlohmann::ordered_json context;
    context["messages"] = nlohmann::ordered_json::array();
    for (const auto& m : messages) {
        nlohmann::ordered_json msg;
        msg["role"] = m.role;
        msg["content"] = m.content;
        context["messages"].push_back(std::move(msg));
    }
    // transformers always passes tools and documents (None when absent):
    // `tools is not none` must see None, not an undefined name.
    context["tools"] = nullptr;
    context["documents"] = nullptr;
    context["add_generation_prompt"] = add_generation_prompt;
    for (const auto& [name, token] : other_special_tokens) context[name] = token;
    context["bos_token"] = bos_token;
    context["eos_token"] = eos_token;
    return render(context);
}

std::string ChatTemplate::render(const nlohmann::json& context) const {
    return render(nlohmann::ordered_json(context));
}

std::string ChatTemplate::render(const nlohmann::ordered_json& context) const {
    if (!context.is_object()) throw Error(impl_->where, "the render context must be a JSON object");
    try {
        const jinja::Value values = jinja::from_json(context);
        return jinja::render(impl_->body, *values.dict, impl_->options);
    } catch (const jinja::TemplateError& e) {
        throw Error(impl_->where, "line " + std::to_string(e.line) + ": " + e.what());
    } catch (const Error&) {
        throw;
    } catch (const std::exception& e) {
        // Not expected: still one clear error naming the template.
        throw Error(impl_->where, std::string("cannot render the template: ") + e.what());
    }
}

} // namespace glq::io
