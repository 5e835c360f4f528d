#!/usr/bin/env python3
"""Writes tests/data/chat_templates/goldens.json: the reference renderings of
every chat template in tests/data/chat_templates/ (plus the demo model's and
the shared Qwen3 tokenizer's) on a set of conversations, as transformers'
apply_chat_template renders them. tests/io/test_chat_template.cpp requires
our Jinja interpreter to reproduce each one byte for byte.

The rendering goes through transformers' own render_jinja_template, so the
jinja2 environment is exactly the one transformers configures
(ImmutableSandboxedEnvironment, trim_blocks, lstrip_blocks, its tojson with
ensure_ascii=False, raise_exception, loopcontrols); only strftime_now is
pinned to a fixed date so the goldens are reproducible.

Run from the repository root with the project venv:
    .venv/bin/python tests/python/gen_chat_template_goldens.py          # write
    .venv/bin/python tests/python/gen_chat_template_goldens.py --check  # compare
"""

import datetime
import json
import os
import sys
from pathlib import Path

import jinja2
from transformers.utils import chat_template_utils as ctu

ROOT = Path(__file__).resolve().parents[2]
OUT_DIR = ROOT / "tests" / "data" / "chat_templates"
SHARED = Path(os.environ.get("GLQ_SHARED_DATA", ROOT.parent / "shared" / "data"))
DEMO_GGUF = ROOT / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf"

# strftime_now() is datetime.now().strftime(fmt) in transformers; the C++
# test sets the same clock.
FIXED_NOW = datetime.datetime(2025, 3, 9, 14, 5, 7)

# bos/eos tokens of each family (from their tokenizer_config.json).
LLAMA3 = {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>"}
LLAMA2 = {"bos_token": "<s>", "eos_token": "</s>"}
CHATML = {"bos_token": "", "eos_token": "<|im_end|>"}
GEMMA = {"bos_token": "<bos>", "eos_token": "<eos>"}

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Get the current weather in a city",
            "parameters": {
                "type": "object",
                "properties": {
                    "city": {"type": "string", "description": "City name, e.g. \"Zürich\""},
                    "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                    "days": {"type": "integer", "minimum": 1, "maximum": 7.5},
                },
                "required": ["city"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "search",
            "description": "Search the web <fast> & cheap",
            "parameters": {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]},
        },
    },
]

SYSTEM = {"role": "system", "content": "You are a concise assistant.\nAnswer in English."}
USER1 = {"role": "user", "content": "What is the capital of France?"}
ASSIST1 = {"role": "assistant", "content": "Paris."}
USER2 = {"role": "user", "content": "  And of Italy?  "}
UNICODE_USER = {"role": "user", "content": "Grüße aus Zürich 🌍 — 日本語? \"quotes\" 'single' back\\slash\ttab\nnew line"}
UNICODE_ASSIST = {"role": "assistant", "content": "Ça va très bien ✓ <b>&amp;</b>"}
EMPTY_USER = {"role": "user", "content": ""}
TOOL_CALL = {
    "role": "assistant",
    "content": "",
    "tool_calls": [
        {
            "id": "call12345",
            "type": "function",
            "function": {"name": "get_weather", "arguments": {"city": "Zürich", "unit": "celsius", "days": 2}},
        }
    ],
}
TOOL_RESULT = {
    "role": "tool",
    "tool_call_id": "call12345",
    "name": "get_weather",
    "content": "{\"temperature\": 21.5, \"sky\": \"clear\"}",
}
USER_WEATHER = {"role": "user", "content": "What's the weather in Zürich?"}
THINK_ASSIST = {"role": "assistant", "content": "<think>\nThe user asks about France.\n</think>\n\nParis."}
REASONING_ASSIST = {"role": "assistant", "content": "Paris.", "reasoning_content": "France's capital is Paris."}

BASIC = {
    "single_user": [USER1],
    "system_user": [SYSTEM, USER1],
    "multi_turn": [SYSTEM, USER1, ASSIST1, USER2],
    "multi_turn_no_system": [USER1, ASSIST1, USER2],
    "empty_content": [EMPTY_USER],
    "unicode": [UNICODE_USER, UNICODE_ASSIST, USER1],
    "ends_with_assistant": [USER1, ASSIST1],
    "system_only": [SYSTEM],
}
TOOL_CONVERSATIONS = {
    "tool_call_round_trip": [USER_WEATHER, TOOL_CALL, TOOL_RESULT],
    "tool_call_round_trip_answer": [SYSTEM, USER_WEATHER, TOOL_CALL, TOOL_RESULT,
                                    {"role": "assistant", "content": "It is 21.5 °C and clear."}],
}
THINKING_CONVERSATIONS = {
    "think_tags_in_history": [USER1, THINK_ASSIST, USER2],
    "think_tags_last": [USER1, THINK_ASSIST],
    "reasoning_content": [USER1, REASONING_ASSIST, USER2],
    "reasoning_content_last": [SYSTEM, USER1, REASONING_ASSIST],
}

# template file -> (special tokens, supports tools, thinking switch)
TEMPLATES = {
    "HuggingFaceTB-SmolLM2-135M-Instruct.jinja": (CHATML, False, False),
    "HuggingFaceTB-SmolLM3-3B.jinja": (CHATML, True, True),
    "Qwen-Qwen2.5-7B-Instruct.jinja": (CHATML, True, False),
    "Qwen-Qwen3-0.6B.jinja": (CHATML, True, True),
    "meta-llama-Llama-3-8B-Instruct.jinja": (LLAMA3, False, False),
    "meta-llama-Llama-3.1-8B-Instruct.jinja": (LLAMA3, True, False),
    "meta-llama-Llama-3.2-3B-Instruct.jinja": (LLAMA3, True, False),
    "bofenghuang-vigogne-2-70b-chat-llama2.jinja": (LLAMA2, False, False),
    "mistralai-Mistral-7B-Instruct-v0.2-pre-v1.jinja": (LLAMA2, False, False),
    "mistralai-Mistral-7B-Instruct-v0.2-v1.jinja": (LLAMA2, False, False),
    "mistralai-Mistral-Large-Instruct-2411.jinja": (LLAMA2, False, False),
    "mistralai-Mistral-Nemo-Instruct-2407.jinja": (LLAMA2, True, False),
    "NousResearch-Hermes-2-Pro-Llama-3-8B-tool_use.jinja": (CHATML, True, False),
    "google-gemma-7b-it.jinja": (GEMMA, False, False),
    # Beyond the supported families: templates that exercise more of jinja2
    # (Markup escaping, {% filter %}, str.format, int dict keys, macros).
    "google-gemma-2-2b-it.jinja": (GEMMA, False, False),
    "microsoft-Phi-3.5-mini-instruct.jinja": (CHATML, False, False),
    "deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja": (CHATML, True, False),
    "ibm-granite-granite-3.3-2B-Instruct.jinja": (CHATML, True, True),
    "meetkai-functionary-medium-v3.1.jinja": (LLAMA3, True, False),
    "meetkai-functionary-medium-v3.2.jinja": (LLAMA3, True, False),
    "fireworks-ai-llama-3-firefunction-v2.jinja": (LLAMA3, True, False),
    "CohereForAI-c4ai-command-r7b-12-2024-tool_use.jinja": (CHATML, True, False),
    "openai-gpt-oss-120b.jinja": (CHATML, True, False),
    "Qwen3-Coder.jinja": (CHATML, True, False),
    "moonshotai-Kimi-K2.jinja": (CHATML, True, False),
    "ByteDance-Seed-OSS.jinja": (CHATML, True, False),
    "tencent-Hy3.jinja": (CHATML, True, False),
}


# Small templates that pin down the interpreter's semantics one feature at a
# time (tests/io/test_jinja.cpp renders each and compares). Each is
# (name, template, context).
D = {"a": 1, "b": [1, 2, 3], "s": "Hello World", "u": "Grüße 🌍", "f": 2.5, "n": None, "t": True,
     "d": {"z": 1, "a": "x", "m": [1, {"k": "v"}]},
     "msgs": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"},
              {"role": "user", "content": "bye"}]}
SNIPPETS = [
    # literals, arithmetic, precedence
    ("int_arith", "{{ 1 + 2 * 3 }} {{ (1 + 2) * 3 }} {{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 2 ** 10 }}", {}),
    ("float_arith", "{{ 7 / 2 }} {{ 10 / 5 }} {{ 0.1 + 0.2 }} {{ 1e20 }} {{ 1.5e-7 }} {{ 3 * 1.0 }} {{ f * 2 }} {{ 2.0 ** 0.5 }}", D),
    ("unary", "{{ -a }} {{ +a }} {{ -f }} {{ not t }} {{ -(b|length) }} {{ -3|abs }}", D),
    ("error_unary_binds_before_filter", "{{ - b|length }}", D),
    ("string_ops", "{{ 'ab' ~ 3 ~ none ~ undefined_thing }}|{{ 'x' * 3 }}|{{ 'a' + 'b' }}|{{ \"it's\" }}|{{ 'a' 'b' }}", {}),
    ("escapes", "{{ 'tab\\there\\nnl \\u00e9 \\x41 \\\\ \\' \"' }}", {}),
    ("concat_binds_tighter_than_plus", "{{ 'a' + 'b' ~ 'c' }} {{ 1 ~ 2 + 3 if false else 'x' }}", {}),
    ("filters_bind_tighter", "{{ 'ab' + s|upper }} {{ -3|abs }} {{ b|length * 2 }} {{ s|lower + '!' }}", D),
    ("comparisons", "{{ 1 < 2 < 3 }} {{ 1 < 3 < 2 }} {{ a == 1.0 }} {{ 'a' != 'b' }} {{ [1,2] == [1,2] }} {{ 'b' > 'a' }} {{ 2 >= 2 }} {{ t == 1 }}", D),
    ("in_not_in", "{{ 'll' in s }} {{ 2 in b }} {{ 'z' in d }} {{ 'q' not in d }} {{ not 'x' in s }} {{ 'x' in undefined_thing }}", D),
    ("and_or_values", "{{ a and 'yes' }} {{ 0 and 'yes' }} {{ n or 'fallback' }} {{ s or 'x' }} {{ [] or none }}", D),
    ("conditional_expr", "{{ 'y' if t else 'n' }}|{{ 'y' if n else 'n' }}|{{ 'only' if n }}|{{ 'a' if false else 'b' if false else 'c' }}", D),
    ("print_values", "{{ n }} {{ t }} {{ b }} {{ d }} {{ (1, 'a') }} {{ (1,) }} {{ [s, u, f, n, t] }} {{ \"q'uote\" }} {{ ['it\\'s', \"x\\ny\"] }}", D),
    ("dict_and_list_literals", "{{ {'k': 1, 'j': [1, 2]} }} {{ [] }} {{ {} }} {{ {'a': 1}['a'] }} {{ [1, 2, 3][-1] }}", {}),
    # attribute and item access, slicing
    ("access", "{{ d.a }} {{ d['z'] }} {{ d.m[1].k }} {{ msgs[0].role }} {{ msgs[-1]['content'] }} {{ b.1 }} {{ d.missing }}|{{ d['missing'] }}|", D),
    ("slices", "{{ b[1:] }} {{ b[:-1] }} {{ b[::-1] }} {{ b[::2] }} {{ s[:5] }} {{ s[::-1] }} {{ u[::-1] }} {{ u[2:4] }} {{ b[5:] }} {{ b[-10:1] }} {{ s[-5:] }} {{ b[2:0:-1] }}", D),
    ("string_index_unicode", "{{ u[0] }}{{ u[-1] }}{{ u|length }}{{ s|length }}", D),
    # tests
    ("tests_types", "{{ a is number }} {{ f is number }} {{ t is number }} {{ s is string }} {{ d is mapping }} {{ b is mapping }} {{ b is iterable }} {{ s is iterable }} {{ a is iterable }} {{ b is sequence }} {{ n is none }} {{ t is boolean }} {{ a is boolean }} {{ t is true }} {{ 1 is true }} {{ false is false }} {{ a is integer }} {{ f is float }}", D),
    ("tests_defined", "{{ a is defined }} {{ zz is defined }} {{ zz is undefined }} {{ d.q is defined }} {{ zz is not defined }} {{ n is not none }} {{ zz is iterable }}", D),
    ("tests_numbers", "{{ 3 is odd }} {{ 4 is even }} {{ 9 is divisibleby 3 }} {{ 9 is divisibleby(4) }} {{ a is eq 1 }} {{ a is equalto(2) }} {{ 3 is gt 2 }} {{ 'ab' is lower }} {{ 'AB' is upper }} {{ 2 is in b }}", D),
    # filters
    ("filter_trim_case", "[{{ '  x y \\n'|trim }}][{{ 'xxhixx'|trim('x') }}] {{ s|upper }} {{ s|lower }} {{ 'hello wORLD-foo (bar)'|title }} {{ 'hELLO world'|capitalize }}", D),
    ("filter_default", "{{ zz|default('dflt') }} {{ n|default('dflt') }} {{ ''|default('dflt', true) }} {{ zz|d('d') }} {{ a|default(5) }} {{ zz|default }}|", D),
    ("filter_join_list", "{{ b|join(', ') }} {{ b|join }} {{ msgs|map(attribute='role')|join('/') }} {{ msgs|join('|', attribute='content') }} {{ 'abc'|list }} {{ d|list }}", D),
    ("filter_first_last", "{{ b|first }} {{ b|last }} {{ s|first }} {{ []|first }}|{{ msgs|last }}", D),
    ("filter_convert", "{{ '42'|int }} {{ '4.7'|int }} {{ 'x'|int }} {{ 'x'|int(7) }} {{ 3.9|int }} {{ '2.5'|float }} {{ 3|float }} {{ 'ff'|int(base=16) }} {{ a|string ~ '!' }} {{ b|string }}", D),
    ("filter_replace", "{{ s|replace('o', '0') }} {{ s|replace('l', 'L', 2) }} {{ s.replace('World', 'There') }}", D),
    ("filter_items", "{% for k, v in d|items %}{{ k }}={{ v }};{% endfor %} {% for k, v in d.items() %}{{ k }}{% endfor %} {{ d.keys()|list }} {{ d.values()|list }} {{ d.get('a') }} {{ d.get('q') }} {{ d.get('q', 'dd') }}", D),
    ("filter_select", "{{ msgs|selectattr('role', 'equalto', 'user')|map(attribute='content')|list }} {{ msgs|rejectattr('role', 'eq', 'user')|list }} {{ [0, 1, '', 'a', none]|select|list }} {{ [1, 2, 3, 4]|select('odd')|list }} {{ [1, 2, 3, 4]|reject('even')|list }} {{ msgs|selectattr('role')|list|length }}", D),
    ("filter_map", "{{ ['a', 'B']|map('upper')|list }} {{ [' x ', 'y ']|map('trim')|join(',') }} {{ msgs|map(attribute='missing', default='?')|list }}", D),
    ("filter_sort_unique", "{{ [3, 1, 2]|sort }} {{ [3, 1, 2]|sort(reverse=true) }} {{ ['b', 'A', 'c']|sort }} {{ ['b', 'A', 'c']|sort(case_sensitive=true) }} {{ msgs|sort(attribute='content')|map(attribute='content')|list }} {{ [1, 2, 1, 3, 2]|unique|list }} {{ ['a', 'A', 'b']|unique|list }}", D),
    ("filter_numbers", "{{ 2.567|round }} {{ 2.567|round(2) }} {{ 2.5|round }} {{ 3.5|round }} {{ 2.561|round(1, 'floor') }} {{ 2.521|round(1, 'ceil') }} {{ -5|abs }} {{ -2.5|abs }} {{ [1, 2, 3]|sum }} {{ [3, 1, 2]|max }} {{ [3, 1, 2]|min }}", D),
    ("filter_indent_center", "[{{ 'a\\nb\\n\\nc'|indent }}][{{ 'a\\nb'|indent(2, true) }}][{{ 'a\\n\\nb'|indent(1, blank=true) }}][{{ 'ab'|center(7) }}][{{ 'ab'|center(6) }}][{{ 'abc'|center(6) }}]", {}),
    ("filter_misc", "{{ s|wordcount }} {{ b|reverse|list }} {{ 'abc'|reverse }} {{ s|safe }} {{ b|count }} {{ d|length }} {{ zz|length }} {{ d|dictsort }}", D),
    ("tojson", "{{ d|tojson }}|{{ u|tojson }}|{{ [1, 2.5, none, true, 'x\"\\n']|tojson }}|{{ {}|tojson }}|{{ []|tojson }}|{{ d|tojson(indent=2) }}|{{ d|tojson(sort_keys=true) }}|{{ u|tojson(ensure_ascii=true) }}|{{ d|tojson(separators=(',', ':')) }}|{{ {'e': {}, 'l': []}|tojson(indent=1) }}", D),
    # string methods
    ("str_methods", "[{{ '  a b  '.strip() }}][{{ '  a '.lstrip() }}][{{ ' a  '.rstrip() }}][{{ '\\n\\nx\\n'.strip('\\n') }}][{{ 'xyax'.strip('xy') }}] {{ s.startswith('Hell') }} {{ s.endswith('xx') }} {{ s.startswith(('a', 'H')) }} {{ s.split() }} {{ 'a,b,,c'.split(',') }} {{ 'a,b,c'.split(',', 1) }} {{ 'a,b,c'.rsplit(',', 1) }} {{ ' a  b '.split() }} {{ s.upper() }} {{ s.lower() }} {{ 'hello wOrld'.title() }} {{ s.find('o') }} {{ s.find('z') }} {{ u.find('🌍') }} {{ s.count('l') }} {{ '-'.join(['a', 'b']) }} {{ 'x'.capitalize() }}", D),
    ("think_split", "{% set c = '<think>\\nreason\\n</think>\\n\\nanswer' %}[{{ c.split('</think>')[-1].lstrip('\\n') }}][{{ c.split('</think>')[0].rstrip('\\n').split('<think>')[-1].lstrip('\\n') }}]", {}),
    # statements: if / for / set / namespace / macro
    ("if_elif_else", "{% for x in [1, 2, 3, 4] %}{% if x == 1 %}one{% elif x == 2 %}two{% elif x == 3 %}three{% else %}many{% endif %} {% endfor %}", {}),
    ("loop_vars", "{% for m in msgs %}{{ loop.index }}/{{ loop.index0 }}/{{ loop.revindex }}/{{ loop.revindex0 }}/{{ loop.first }}/{{ loop.last }}/{{ loop.length }}/{{ loop.previtem.content if loop.previtem is defined else '-' }}/{{ loop.nextitem.content if loop.nextitem is defined else '-' }}/{{ loop.cycle('odd', 'even') }};{% endfor %}", D),
    ("loop_else_and_filter", "{% for x in [] %}x{% else %}empty{% endfor %} {% for x in b if x != 2 %}{{ x }}:{{ loop.length }}{{ ',' if not loop.last }}{% endfor %} {% for c in 'ab' %}{{ c }}{% endfor %} {% for k in d %}{{ k }}{% endfor %} {% for x in zz %}never{% endfor %}", D),
    ("loop_unpack", "{% for a, b in [[1, 2], [3, 4]] %}{{ a + b }} {% endfor %}{% for k, v in d.items() if k != 'a' %}{{ k }}{% endfor %}", D),
    ("loop_break_continue", "{% for x in range(10) %}{% if x == 2 %}{% continue %}{% endif %}{% if x == 5 %}{% break %}{% endif %}{{ x }}{% endfor %}", {}),
    ("range", "{{ range(3)|list }} {{ range(1, 4)|list }} {{ range(10, 0, -3)|list }} {% for i in range(messages|length) %}{{ i }}{% endfor %}", {"messages": [1, 2]}),
    ("scoping", "{% set x = 5 %}{% for i in range(2) %}{{ x }}{% set x = i %}{{ x }}{% endfor %}{{ x }}|{% if true %}{% set y = 1 %}{% endif %}{{ y }}|{% for i in range(2) %}{% if loop.first %}{% set z = 1 %}{% endif %}[{{ z }}]{% endfor %}", {}),
    ("namespace", "{% set ns = namespace(found=false, count=0, last=none) %}{% for m in msgs %}{% if m.role == 'user' %}{% set ns.found = true %}{% set ns.count = ns.count + 1 %}{% set ns.last = loop.index0 %}{% endif %}{% endfor %}{{ ns.found }} {{ ns.count }} {{ ns.last }} {{ ns.nothing }}|", D),
    ("set_forms", "{% set a, b = 1, 2 %}{{ a }}{{ b }} {% set t = (1, 2) %}{{ t }} {% set blk %}inside {{ a }}{% endset %}[{{ blk }}] {% set msgs2 = msgs[1:] %}{{ msgs2|length }}", D),
    ("macro", "{% macro greet(name, punct='!') %}Hi {{ name }}{{ punct }}{% endmacro %}{{ greet('Bob') }} {{ greet('Al', '?') }} {{ greet(name='Kim', punct='.') }} {{ greet('x')|upper }}", {}),
    ("macro_uses_globals", "{%- macro render_msg(m) -%}\n<{{ m.role }}>{{ m.content | trim }}{{ eos }}\n{%- endmacro -%}\n{% for m in msgs %}{{ render_msg(m) }}{% endfor %}", {**D, "eos": "</s>"}),
    ("dict_global", "{{ dict(a=1, b='x') }} {{ dict(d, q=2)|length }}", D),
    ("generation_tag", "{% for m in msgs %}{% if m.role == 'assistant' %}{% generation %}{{ m.content }}{% endgeneration %}{% else %}{{ m.content }}{% endif %} {% endfor %}", D),
    ("strftime_now", "{{ strftime_now('%d %b %Y') }} {{ strftime_now('%Y-%m-%d %H:%M:%S %A %B %j') }}", {}),
    # whitespace control, trim_blocks, lstrip_blocks, comments, raw
    ("ws_trim_blocks", "{% if true %}\nline1\n{% endif %}\nline2\n", {}),
    ("ws_lstrip_blocks", "<ul>\n    {% for x in b %}\n    <li>{{ x }}</li>\n    {% endfor %}\n</ul>", D),
    ("ws_dash", "a  {%- if true -%}  b  {%- endif -%}  c {{- ' d ' -}} e\n\n{{- 'f' }}", {}),
    ("ws_plus_disables_lstrip", "x\n    {%+ if true %}y{% endif %}\n", {}),
    ("ws_var_not_lstripped", "x\n    {{ 'y' }}\n    {% if true %}z{% endif %}", {}),
    ("ws_after_var_tag", "{{ 'a' }}  {% if true %}b{% endif %}\n  {{ 'c' }}  {% if true %}d{% endif %}", {}),
    ("ws_comments", "a {# comment #}b\n{# own line #}\nc\n  {#- dash -#}  d {# multi\nline #}\ne", {}),
    ("ws_crlf_and_trailing_newline", "a\r\n{% if true %}\r\nb\r\n{% endif %}\r\nc\n", {}),
    ("ws_block_then_text_on_line", "{% set x = 1 %}  text\n  {% set y = 2 %}\ttab\n{% if true %}   {% endif %}end", {}),
    ("filter_block", "{% filter upper %}a{{ s }}{% endfilter %}|{%- filter trim|replace('x', 'y') %}\n  xox \n{% endfilter -%}|", D),
    ("str_format", "{{ '<{}|{}>'.format('a', 1) }} {{ '{1}{0}'.format('x', 'y') }} {{ '{k}={{}}'.format(k='v') }}", {}),
    ("select_on_none", "{{ n|selectattr('type', 'equalto', 'x')|list|length }} {{ n|map(attribute='a')|list }} {{ n|reject|list }}", D),
    ("safe_markup_concat", "{{ '<b>'|safe + '<i>\\'\"&' }}|{{ 'x' + '<y>'|safe }}|{{ ('<a>'|safe + '<b>'|safe) }}|{{ '<p>'|safe ~ '<q>' }}", {}),
    ("non_string_dict_keys", "{% set m = {1024: 'a', 2: 'b', none: 'n', 1.5: 'f', true: 't'} %}{{ m }} {{ m[2] }} {{ m|tojson }} {{ 1024 in m }} {{ '2' in m }} {{ m|list }} {% for k, v in {3: 'x', 1: 'y'}|dictsort %}{{ k }}{{ v }}{% endfor %} {{ m.get(2) }}", {}),
    ("unicode_lower", "{{ 'GRÜẞE ÀÉ ΑΒΓ'|lower }} {{ 'ÀB'.lower() }}", {}),
    ("unicode_whitespace", "[{{ u2|trim }}][{{ u2.strip() }}][{{ u2.split() }}][{{ u2.lstrip() }}]", {"u2": "\u3000\u00a0 a\u2003b\u200b \u202f"}),
    ("raw_block", "{% raw %}{{ not parsed }} {% if %}{% endraw %} after", {}),
    ("nested_quotes_in_tags", "{{ '}}' }} {{ \"%}\" }} {% if '%}' %}ok{% endif %} {{ {'a': {'b': 1}} }}", {}),
    # undefined behaviour
    ("undefined_prints_empty", "[{{ zz }}][{{ d.q }}][{{ zz|trim }}][{{ zz ~ 'x' }}][{{ zz|length }}][{{ zz is none }}][{{ zz == none }}][{{ not zz }}]", D),
    # errors (the golden records jinja2's message; ours must fail too)
    ("error_raise", "a{{ raise_exception('Custom failure: ' ~ a) }}b", D),
    ("error_undefined_attr_chain", "{{ zz.attr }}", D),
    ("error_missing_key_chain", "{{ d.q.r }}", D),
    ("error_add_str_int", "{{ 'a' + 1 }}", {}),
    ("error_undefined_plus", "{{ zz + 1 }}", {}),
    ("error_sandbox_append", "{% set l = [] %}{{ l.append(1) }}", {}),
    ("error_not_callable", "{{ s() }}", D),
    ("error_unknown_filter_at_parse", "line1\n{{ s|nosuchfilter }}", D),
    ("error_unknown_test_at_parse", "{% if s is nosuchtest %}{% endif %}", D),
    ("error_unpack_count", "{% for a, b in [[1, 2, 3]] %}{% endfor %}", {}),
    ("error_compare_types", "{{ 1 < 'a' }}", {}),
    ("error_division_by_zero", "{{ 1 / 0 }}", {}),
]


def snippet_cases():
    env = ctu._compile_jinja_template("x").environment
    env.globals["strftime_now"] = fixed_strftime_now
    for name, template, context in SNIPPETS:
        case = {"name": name, "template": template, "context": context}
        try:
            case["expected"] = env.from_string(template).render(**context)
        except Exception as e:  # noqa: BLE001 - an error is a golden too
            case["error"] = str(e)
            case["error_type"] = type(e).__name__
        yield case


def fixed_strftime_now(fmt):
    return FIXED_NOW.strftime(fmt)


def render(template, messages, add_generation_prompt, tools=None, **kwargs):
    compiled = ctu._compile_jinja_template(template)
    env = compiled.environment
    # Guard against a transformers release that changes the environment.
    assert isinstance(env, jinja2.sandbox.ImmutableSandboxedEnvironment)
    assert env.trim_blocks and env.lstrip_blocks and not env.keep_trailing_newline
    env.globals["strftime_now"] = fixed_strftime_now
    rendered, _ = ctu.render_jinja_template(
        conversations=[messages], tools=tools, chat_template=template,
        add_generation_prompt=add_generation_prompt, **kwargs)
    return rendered[0]


def cases_for(name, template, tokens, tools_ok, thinking):
    conversations = dict(BASIC)
    if tools_ok:
        conversations.update(TOOL_CONVERSATIONS)
    if thinking or "Qwen3" in name:
        conversations.update(THINKING_CONVERSATIONS)
    for conv_name, messages in conversations.items():
        variants = [({}, None, "")]
        if tools_ok:
            variants.append(({}, TOOLS, "+tools"))
        if thinking:
            variants.append(({"enable_thinking": False}, None, "+no_thinking"))
        for extra, tools, suffix in variants:
            for agp in (True, False):
                # The context as transformers builds it: tools and documents
                # are always passed (None when absent).
                context = {"messages": messages, "tools": tools, "documents": None,
                           "add_generation_prompt": agp, **tokens, **extra}
                case = {"name": f"{conv_name}{suffix}{'+gen' if agp else ''}", "context": context}
                try:
                    case["expected"] = render(template, messages, agp, tools=tools, **tokens, **extra)
                except Exception as e:  # noqa: BLE001 - any failure of the template is a golden too
                    # raise_exception() (a TemplateError: we must show the same
                    # message) or the template failing on this input (a
                    # TypeError, UndefinedError...: we must fail too).
                    case["error"] = str(e)
                    case["error_type"] = type(e).__name__
                yield case


def write_json(path, data):
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    tmp.replace(path)


def demo_model_template():
    import gguf
    reader = gguf.GGUFReader(str(DEMO_GGUF))
    field = reader.fields["tokenizer.chat_template"]
    return bytes(field.parts[field.data[0]]).decode("utf-8")


def build(check):
    """The goldens as dicts; writes the demo model's template unless checking."""
    smollm2 = OUT_DIR / "HuggingFaceTB-SmolLM2-135M-Instruct.jinja"
    if DEMO_GGUF.exists():
        template = demo_model_template()
        if check and smollm2.read_text(encoding="utf-8") != template:
            sys.exit(f"{smollm2} differs from the chat template in {DEMO_GGUF}")
        if not check:
            smollm2.write_text(template, encoding="utf-8")
    elif not smollm2.exists():
        sys.exit(f"{DEMO_GGUF} is missing and no saved copy of its template exists")

    groups = []
    for file_name, (tokens, tools_ok, thinking) in TEMPLATES.items():
        template = (OUT_DIR / file_name).read_text(encoding="utf-8")
        groups.append({"template": file_name, "cases": list(cases_for(file_name, template, tokens, tools_ok, thinking))})

    # The shared Qwen3 tokenizer_config.json goes through from_tokenizer_config.
    qwen3_config = SHARED / "tokenizers" / "qwen3" / "tokenizer_config.json"
    config = json.loads(qwen3_config.read_text(encoding="utf-8"))
    tokens = {"bos_token": config.get("bos_token") or "", "eos_token": config["eos_token"]}
    groups.append({"tokenizer_config": "tokenizers/qwen3/tokenizer_config.json",
                   "cases": list(cases_for("Qwen3", config["chat_template"], tokens, True, True))})
    return {
        "goldens.json": {"now": FIXED_NOW.isoformat(), "groups": groups},
        "jinja_snippets.json": {"now": FIXED_NOW.isoformat(), "cases": list(snippet_cases())},
    }


def main():
    check = "--check" in sys.argv[1:]
    outputs = build(check)
    stale = []
    for file_name, data in outputs.items():
        path = OUT_DIR / file_name
        if check:
            # Round-trip through JSON so tuples compare as the lists on disk.
            if json.loads(json.dumps(data)) != json.loads(path.read_text(encoding="utf-8")):
                stale.append(file_name)
        else:
            write_json(path, data)
    if stale:
        sys.exit(f"stale goldens: {', '.join(stale)} differ from what jinja2/transformers render now; "
                 "re-run tests/python/gen_chat_template_goldens.py")
    groups = outputs["goldens.json"]["groups"]
    n = sum(len(g["cases"]) for g in groups)
    errors = sum(1 for g in groups for c in g["cases"] if "error" in c)
    verb = "checked" if check else "wrote"
    print(f"{verb} goldens.json: {len(groups)} templates, {n} cases ({errors} expect an error); "
          f"jinja_snippets.json: {len(outputs['jinja_snippets.json']['cases'])} snippets")


if __name__ == "__main__":
    main()
