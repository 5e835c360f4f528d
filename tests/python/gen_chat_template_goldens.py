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
    .venv/bin/python tests/python/gen_chat_template_goldens.py
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
}


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


def demo_model_template():
    import gguf
    reader = gguf.GGUFReader(str(DEMO_GGUF))
    field = reader.fields["tokenizer.chat_template"]
    return bytes(field.parts[field.data[0]]).decode("utf-8")


def main():
    smollm2 = OUT_DIR / "HuggingFaceTB-SmolLM2-135M-Instruct.jinja"
    if DEMO_GGUF.exists():
        smollm2.write_text(demo_model_template(), encoding="utf-8")
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

    out = OUT_DIR / "goldens.json"
    tmp = out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps({"now": FIXED_NOW.isoformat(), "groups": groups}, ensure_ascii=False, indent=1) + "\n",
                   encoding="utf-8")
    tmp.replace(out)
    n = sum(len(g["cases"]) for g in groups)
    errors = sum(1 for g in groups for c in g["cases"] if "error" in c)
    print(f"wrote {out}: {len(groups)} templates, {n} cases ({errors} expect an error)")


if __name__ == "__main__":
    main()
