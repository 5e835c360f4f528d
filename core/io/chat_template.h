#pragma once
// Renders a model's own `chat_template` (tokenizer_config.json) with a Jinja
// subset interpreter that covers the templates of the supported families:
// for/if/elif/else/set/namespace/macro, loop variables, filters (trim, length,
// tojson, upper, lower, default, join, ...), string methods, tests, raise_exception.
// The output is byte-identical to transformers' apply_chat_template (jinja2
// with trim_blocks, lstrip_blocks and its tojson/raise_exception/strftime_now).

#include <ctime>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace glq::io {

struct ChatMessage {
    std::string role;     // system | user | assistant | tool
    std::string content;
};

class ChatTemplate {
public:
    // Parses the template; throws glq::Error(where, "line L: ...") on a syntax error.
    ChatTemplate(const std::string& source, const std::string& where = "chat_template");
    ChatTemplate(ChatTemplate&&) noexcept;
    ChatTemplate& operator=(ChatTemplate&&) noexcept;
    ~ChatTemplate();

    // Reads tokenizer_config.json's chat_template (string, or the "default"
    // entry of a list), bos_token and eos_token. Throws if there is none.
    static ChatTemplate from_tokenizer_config(const std::filesystem::path& tokenizer_config_json);
    // The same from the parsed file (`where` names it in errors).
    static ChatTemplate from_config(const nlohmann::ordered_json& tokenizer_config, const std::string& where);

    // Throws glq::Error(where, "line L: message") when rendering fails, including
    // the template's own raise_exception("message").
    std::string render(const std::vector<ChatMessage>& messages, bool add_generation_prompt) const;
    // Full control: the Jinja context (messages, add_generation_prompt, bos_token, tools, ...).
    std::string render(const nlohmann::json& context) const;
    // The same with the key order of every dict kept (tojson prints keys in
    // insertion order, as Python does); use this for tools and tool calls.
    std::string render(const nlohmann::ordered_json& context) const;

    const std::string& source() const;
    std::string bos_token, eos_token;  // injected into the context by render(messages, ...)
    // unk_token, sep_token, pad_token, cls_token, mask_token where the config
    // sets them: transformers passes every special token to the template too.
    std::vector<std::pair<std::string, std::string>> other_special_tokens;

    // The clock behind strftime_now() (Llama 3.x prints today's date); local time by default.
    void set_clock(std::function<std::tm()> now);

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

} // namespace glq::io
