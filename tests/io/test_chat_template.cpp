// Chat templates rendered by our Jinja interpreter must equal, byte for byte,
// what transformers' apply_chat_template renders (goldens written by
// tests/python/gen_chat_template_goldens.py), for the templates of every
// supported family, and fail where transformers fails.

#include <ctime>
#include <iomanip>
#include <sstream>

#include "core/common/atomic_file.h"
#include "core/common/error.h"
#include "core/io/chat_template.h"
#include "tests/support/test.h"

using glq::io::ChatMessage;
using glq::io::ChatTemplate;
using nlohmann::ordered_json;

namespace {

std::filesystem::path templates_dir() { return glq::test::test_data() / "chat_templates"; }

ordered_json load_goldens() {
    return ordered_json::parse(glq::read_file(templates_dir() / "goldens.json"));
}

// The generator pins strftime_now() to this moment ("now" in the goldens).
std::tm golden_now(const ordered_json& goldens) {
    std::tm tm{};
    std::istringstream in(goldens.at("now").get<std::string>());
    in >> std::get_time(&tm, "%Y-%m-%dT%H:%M:%S");
    CHECK(!in.fail());
    tm.tm_isdst = -1;
    std::time_t t = timegm(&tm);
    gmtime_r(&t, &tm);  // fills tm_wday / tm_yday for %a, %j, ...
    return tm;
}

ChatTemplate template_of(const ordered_json& group) {
    if (group.contains("template"))
        return ChatTemplate(glq::read_file(templates_dir() / group["template"].get<std::string>()),
                            group["template"].get<std::string>());
    return ChatTemplate::from_tokenizer_config(glq::test::shared_data() / group["tokenizer_config"].get<std::string>());
}

std::string first_difference(const std::string& got, const std::string& want) {
    std::size_t i = 0;
    while (i < got.size() && i < want.size() && got[i] == want[i]) ++i;
    auto around = [&](const std::string& s) { return ordered_json(s.substr(i < 40 ? 0 : i - 40, 100)).dump(); };
    return "first difference at byte " + std::to_string(i) + "\n   got: " + around(got) + "\n  want: " + around(want);
}

} // namespace

GLQ_TEST(every_golden_rendering_is_byte_identical) {
    const ordered_json goldens = load_goldens();
    const std::tm now = golden_now(goldens);
    std::size_t cases = 0, failures = 0;
    std::string report;
    for (const auto& group : goldens.at("groups")) {
        const std::string label = group.value("template", group.value("tokenizer_config", std::string()));
        ChatTemplate tmpl = template_of(group);
        tmpl.set_clock([now] { return now; });
        for (const auto& c : group.at("cases")) {
            ++cases;
            const std::string name = label + " / " + c.at("name").get<std::string>();
            std::string problem;
            try {
                const std::string got = tmpl.render(c.at("context"));
                if (c.contains("error")) problem = "rendered, but transformers fails with: " + c["error"].get<std::string>();
                else if (got != c.at("expected").get<std::string>())
                    problem = first_difference(got, c["expected"].get<std::string>());
            } catch (const glq::Error& e) {
                if (!c.contains("error")) {
                    problem = std::string("threw: ") + e.what();
                } else if (c.value("error_type", "") == "TemplateError" &&
                           e.problem().find(c["error"].get<std::string>()) == std::string::npos) {
                    // raise_exception(): the template's own message must come through.
                    problem = std::string("wrong message: ") + e.what() + "\n  want: " + c["error"].get<std::string>();
                }
            }
            if (!problem.empty()) {
                ++failures;
                if (failures <= 8) report += "\n" + name + ": " + problem;
            }
        }
    }
    CHECK(cases > 500);
    CHECK_MSG(failures == 0, std::to_string(failures) + " of " + std::to_string(cases) + " cases differ:" + report);
}

GLQ_TEST(raise_exception_names_the_template_and_keeps_the_message) {
    ChatTemplate t(glq::read_file(templates_dir() / "google-gemma-7b-it.jinja"), "gemma.jinja");
    try {
        t.render({{"system", "Be brief."}, {"user", "Hi"}}, true);
        CHECK_MSG(false, "a system message must be refused by Gemma's template");
    } catch (const glq::Error& e) {
        CHECK_EQ(e.where(), std::string("gemma.jinja"));
        CHECK(glq::test::contains(e.problem(), "System role not supported"));
        CHECK(glq::test::contains(e.problem(), "line 1: "));
    }
}

GLQ_TEST(demo_model_template_through_the_message_api) {
    // The same golden as the JSON-context path, reached with ChatMessage.
    const ordered_json goldens = load_goldens();
    for (const auto& group : goldens.at("groups")) {
        if (group.value("template", "") != "HuggingFaceTB-SmolLM2-135M-Instruct.jinja") continue;
        ChatTemplate t(glq::read_file(templates_dir() / "HuggingFaceTB-SmolLM2-135M-Instruct.jinja"));
        t.eos_token = "<|im_end|>";
        for (const auto& c : group.at("cases")) {
            if (c.at("name") != "multi_turn+gen" && c.at("name") != "single_user") continue;
            std::vector<ChatMessage> messages;
            for (const auto& m : c.at("context").at("messages"))
                messages.push_back({m.at("role").get<std::string>(), m.at("content").get<std::string>()});
            CHECK_EQ(t.render(messages, c["context"]["add_generation_prompt"].get<bool>()),
                     c.at("expected").get<std::string>());
        }
        return;
    }
    CHECK_MSG(false, "goldens.json has no SmolLM2 group");
}

GLQ_TEST(from_tokenizer_config_reads_the_template_and_special_tokens) {
    const auto dir = glq::test::temp_dir();
    glq::write_file_atomic(dir / "a.json", R"({"chat_template": "{{ bos_token }}[{{ messages[0].content }}]{{ eos_token }}",
        "bos_token": {"content": "<s>", "lstrip": false}, "eos_token": "</s>"})");
    ChatTemplate a = ChatTemplate::from_tokenizer_config(dir / "a.json");
    CHECK_EQ(a.bos_token, std::string("<s>"));
    CHECK_EQ(a.eos_token, std::string("</s>"));
    CHECK_EQ(a.render({{"user", "hi"}}, false), std::string("<s>[hi]</s>"));

    glq::write_file_atomic(dir / "c.json", R"({"chat_template": "{{ pad_token }}|{{ unk_token }}|{{ mask_token is defined }}",
        "pad_token": {"content": "<pad>"}, "unk_token": "<unk>", "mask_token": null})");
    ChatTemplate c = ChatTemplate::from_tokenizer_config(dir / "c.json");
    CHECK_EQ(c.render({}, false), std::string("<pad>|<unk>|False"));

    glq::write_file_atomic(dir / "b.json", R"({"chat_template": [{"name": "tool_use", "template": "T"},
        {"name": "default", "template": "D{{ add_generation_prompt }}"}], "bos_token": null})");
    ChatTemplate b = ChatTemplate::from_tokenizer_config(dir / "b.json");
    CHECK_EQ(b.bos_token, std::string());
    CHECK_EQ(b.render({}, true), std::string("DTrue"));
}

GLQ_TEST(from_tokenizer_config_rejects_bad_files_with_one_clear_error) {
    const auto dir = glq::test::temp_dir();
    CHECK_THROWS_WITH(ChatTemplate::from_tokenizer_config(dir / "missing.json"), "missing.json");
    glq::write_file_atomic(dir / "none.json", R"({"eos_token": "</s>"})");
    CHECK_THROWS_WITH(ChatTemplate::from_tokenizer_config(dir / "none.json"), "no chat_template");
    glq::write_file_atomic(dir / "nodefault.json", R"({"chat_template": [{"name": "rag", "template": "x"}]})");
    CHECK_THROWS_WITH(ChatTemplate::from_tokenizer_config(dir / "nodefault.json"), "no \"default\" template (it has: rag)");
    glq::write_file_atomic(dir / "broken.json", R"({"chat_template": )");
    CHECK_THROWS_WITH(ChatTemplate::from_tokenizer_config(dir / "broken.json"), "not valid JSON");
    glq::write_file_atomic(dir / "syntax.json", "{\"chat_template\": \"ok\\n{% if x %}\\nno end\"}");
    CHECK_THROWS_WITH(ChatTemplate::from_tokenizer_config(dir / "syntax.json"),
                      "line 3: unexpected end of template: the 'if' block opened on line 2 is never closed");
    glq::write_file_atomic(dir / "badtoken.json", R"({"chat_template": "x", "eos_token": 5})");
    CHECK_THROWS_WITH(ChatTemplate::from_tokenizer_config(dir / "badtoken.json"), "eos_token");
}
