// The Jinja interpreter feature by feature: expressions, filters, tests,
// loops, scoping, whitespace control and errors. Most expectations come from
// jinja2 itself (tests/data/chat_templates/jinja_snippets.json, written by
// tests/python/gen_chat_template_goldens.py); the rest pin down what our
// errors say (line numbers, where, raise_exception's message).

#include <ctime>
#include <iomanip>
#include <sstream>

#include "core/common/atomic_file.h"
#include "core/common/error.h"
#include "core/io/chat_template.h"
#include "tests/support/test.h"

using glq::io::ChatTemplate;
using nlohmann::ordered_json;

namespace {

std::string render(const std::string& source, const ordered_json& context = ordered_json::object()) {
    return ChatTemplate(source, "snippet").render(context);
}

// The problem part of the glq::Error rendering (or parsing) `source` throws.
std::string error_of(const std::string& source, const ordered_json& context = ordered_json::object()) {
    try {
        render(source, context);
    } catch (const glq::Error& e) {
        CHECK_EQ(e.where(), std::string("snippet"));
        return e.problem();
    }
    return "(no error)";
}

std::tm fixed_now(const std::string& iso) {
    std::tm tm{};
    std::istringstream in(iso);
    in >> std::get_time(&tm, "%Y-%m-%dT%H:%M:%S");
    std::time_t t = timegm(&tm);
    gmtime_r(&t, &tm);
    return tm;
}

} // namespace

GLQ_TEST(snippets_match_jinja2) {
    const ordered_json goldens =
        ordered_json::parse(glq::read_file(glq::test::test_data() / "chat_templates" / "jinja_snippets.json"));
    const std::tm now = fixed_now(goldens.at("now").get<std::string>());
    std::size_t failures = 0, cases = 0;
    std::string report;
    for (const auto& c : goldens.at("cases")) {
        ++cases;
        const std::string name = c.at("name").get<std::string>();
        std::string problem;
        try {
            ChatTemplate t(c.at("template").get<std::string>(), name);
            t.set_clock([now] { return now; });
            const std::string got = t.render(c.at("context"));
            if (c.contains("error")) problem = "rendered " + ordered_json(got).dump() + " but jinja2 fails: " + c["error"].get<std::string>();
            else if (got != c.at("expected").get<std::string>())
                problem = "got " + ordered_json(got).dump() + "\n  want " + c["expected"].dump();
        } catch (const glq::Error& e) {
            if (!c.contains("error")) problem = std::string("threw: ") + e.what();
            else if (e.problem().find(c["error"].get<std::string>()) == std::string::npos)
                problem = "message " + ordered_json(e.problem()).dump() + " lacks jinja2's " + c["error"].dump();
        }
        if (!problem.empty()) {
            ++failures;
            report += "\n" + name + ": " + problem;
        }
    }
    CHECK(cases > 60);
    CHECK_MSG(failures == 0, std::to_string(failures) + " of " + std::to_string(cases) + " snippets differ:" + report);
}

GLQ_TEST(expressions_and_filters) {
    CHECK_EQ(render("{{ 1 + 2 * 3 - 4 // 3 }}"), std::string("6"));
    CHECK_EQ(render("{{ x|tojson }}", {{"x", {{"b", 1}, {"a", "é"}}}}), std::string(R"({"b": 1, "a": "é"})"));
    CHECK_EQ(render("{{ messages[::-1]|map(attribute='role')|join(',') }}",
                    {{"messages", {{{"role", "user"}}, {{"role", "assistant"}}}}}),
             std::string("assistant,user"));
    CHECK_EQ(render("{{ '  x  '|trim|upper ~ '!' }}"), std::string("X!"));
    CHECK_EQ(render("{{ 0.1 + 0.2 }} {{ 2.0 }} {{ 1e16 }}"), std::string("0.30000000000000004 2.0 1e+16"));
}

GLQ_TEST(loops_scopes_and_namespaces) {
    CHECK_EQ(render("{% for x in xs %}{{ loop.index }}{{ x }}{% if not loop.last %},{% endif %}{% endfor %}",
                    {{"xs", {"a", "b", "c"}}}),
             std::string("1a,2b,3c"));
    CHECK_EQ(render("{% set ns = namespace(n=0) %}{% for x in range(4) %}{% set ns.n = ns.n + x %}{% endfor %}{{ ns.n }}"),
             std::string("6"));
    // A plain set inside a loop does not leak out of it.
    CHECK_EQ(render("{% set n = 1 %}{% for x in range(3) %}{% set n = x %}{% endfor %}{{ n }}"), std::string("1"));
}

GLQ_TEST(whitespace_control_as_transformers_configures_it) {
    // trim_blocks: the newline after a block tag goes; lstrip_blocks: the
    // indentation before it goes; `-` strips everything on its side.
    CHECK_EQ(render("{% for x in xs %}\n  {% if x %}\n{{ x }}\n  {% endif %}\n{% endfor %}", {{"xs", {1, 2}}}),
             std::string("1\n2\n"));
    CHECK_EQ(render("a\n\n  {{- 'b' -}}  \n c"), std::string("abc"));
    CHECK_EQ(render("x\n"), std::string("x"));  // one trailing newline is dropped
}

GLQ_TEST(syntax_errors_name_the_line) {
    CHECK(glq::test::contains(error_of("a\nb\n{{ x + }}"), "line 3: "));
    CHECK(glq::test::contains(error_of("{% for x in y %}\n{{ x }}"), "the 'for' block opened on line 1 is never closed"));
    CHECK(glq::test::contains(error_of("ok\n{% frobnicate %}"), "line 2: unknown or unsupported tag 'frobnicate'"));
    CHECK(glq::test::contains(error_of("{{ 'unterminated }}"), "line 1: unterminated string literal"));
    CHECK(glq::test::contains(error_of("\n\n{# never closed"), "line 3: missing end of comment tag"));
    CHECK(glq::test::contains(error_of("{{ (1, 2 }}"), "line 1: unexpected '}'"));
    CHECK(glq::test::contains(error_of("{% if x %}{% else %}{% elif y %}{% endif %}"), "elif"));
    CHECK(glq::test::contains(error_of("\n{{ x|nosuch }}"), "line 2: No filter named 'nosuch'."));
}

GLQ_TEST(runtime_errors_name_the_line_and_raise_exception_keeps_its_message) {
    const std::string tmpl = "{% for m in messages %}\n{% if m.role == 'system' %}\n"
                             "{{ raise_exception('System role not supported') }}\n{% endif %}{% endfor %}";
    ordered_json context = {{"messages", {{{"role", "system"}, {"content", "x"}}}}};
    try {
        ChatTemplate(tmpl, "tokenizer_config.json").render(context);
        CHECK_MSG(false, "raise_exception must throw");
    } catch (const glq::Error& e) {
        CHECK_EQ(e.where(), std::string("tokenizer_config.json"));
        CHECK_EQ(e.problem(), std::string("line 3: System role not supported"));
    }
    CHECK_EQ(error_of("\n\n{{ a.b.c }}", {{"a", ordered_json::object()}}),
             std::string("line 3: 'dict object' has no attribute 'b'"));
    CHECK_EQ(error_of("{{ 'a' + 1 }}"), std::string("line 1: can only concatenate str (not \"int\") to str"));
    CHECK_EQ(error_of("{% set l = [] %}\n{% do %}"), std::string("line 2: unknown or unsupported tag 'do'"));
    CHECK_EQ(error_of("{% set l = [1] %}{{ l.append(2) }}"),
             std::string("line 1: access to attribute 'append' of 'list' object is unsafe."));
    CHECK_EQ(error_of("{{ range(200000)|length }}"),
             std::string("line 1: range too big, the sandbox blocks ranges larger than 100000"));
}

GLQ_TEST(runaway_recursion_is_an_error_not_a_crash) {
    CHECK_EQ(error_of("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}\n{{ f(0) }}"),
             std::string("line 1: maximum recursion depth exceeded in macro 'f'"));
    CHECK_EQ(render("{% macro fact(n) %}{{ 1 if n <= 1 else n * fact(n - 1)|int }}{% endmacro %}{{ fact(10) }}"),
             std::string("3628800"));
}

GLQ_TEST(integer_overflow_is_an_error_not_a_wraparound) {
    CHECK_EQ(render("{{ 2 ** 62 }}"), std::string("4611686018427387904"));
    CHECK_EQ(error_of("{{ 2 ** 64 }}"), std::string("line 1: integer overflow in '*' (beyond 64 bits)"));
    CHECK_EQ(error_of("{{ 9223372036854775807 + 1 }}"), std::string("line 1: integer overflow in '+' (beyond 64 bits)"));
}

GLQ_TEST(undefined_behaves_like_jinja2_default_undefined) {
    CHECK_EQ(render("[{{ nothing }}][{{ nothing|length }}][{{ nothing is defined }}][{% for x in nothing %}x{% endfor %}]"),
             std::string("[][0][False][]"));
    CHECK_EQ(render("{{ d.missing }}|{{ d.missing is defined }}", {{"d", ordered_json::object()}}), std::string("|False"));
    CHECK_EQ(error_of("{{ nothing.attr }}"), std::string("line 1: 'nothing' is undefined"));
}
