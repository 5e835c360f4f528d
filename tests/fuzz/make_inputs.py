#!/usr/bin/env python3
"""Writes the fuzz inputs that are checked in, and the hostile set that is not.

  tests/fuzz/make_inputs.py regressions   tests/fuzz/regressions/<target>/* + expected.json
  tests/fuzz/make_inputs.py corpus        tests/fuzz/corpus/<target>/* (small seeds from real files)
  tests/fuzz/make_inputs.py hostile DIR   full-size hostile model folders for the release glqw

Each regression reproduces one finding of issue 12 (the number in its name) at
a size that still trips the limit that fixes it; expected.json holds a part of
the one error each must end in ("" = must load cleanly: the finding was
undefined behaviour on a valid file, caught by the sanitized build). The
hostile set is the issue's full-size versions (100,000-deep, 4e9 repeats...),
kept outside the project."""
import json
import os
import shutil
import struct
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FUZZ = os.path.join(ROOT, "tests", "fuzz")
SHARED = os.environ.get("GLQ_SHARED_DATA", os.path.join(ROOT, "..", "shared", "data"))
STORIES = os.path.join(SHARED, "models", "stories260K")


def safetensors(tensors, metadata=None, header_override=None):
    """tensors: [(name, dtype, shape, bytes)] -> file bytes."""
    header, data = {}, b""
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    if metadata:
        header["__metadata__"] = metadata
    text = header_override if header_override is not None else json.dumps(header)
    text = text.encode() if isinstance(text, str) else text
    text += b" " * ((8 - len(text) % 8) % 8)
    return struct.pack("<Q", len(text)) + text + data


def gguf(kvs, tensors, alignment=32):
    """kvs: [(key, type, value)] with type 8 = string, 4 = u32, 9 = array of strings;
    tensors: [(name, dims, ggml_type, bytes)]."""
    def s(x):
        x = x.encode()
        return struct.pack("<Q", len(x)) + x
    out = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(kvs))
    for k, t, v in kvs:
        out += s(k) + struct.pack("<I", t)
        if t == 8:
            out += s(v)
        elif t == 4:
            out += struct.pack("<I", v)
        elif t == 9:
            out += struct.pack("<IQ", 8, len(v)) + b"".join(s(i) for i in v)
    offset, blobs = 0, b""
    for name, dims, gt, raw in tensors:
        out += s(name) + struct.pack("<I", len(dims)) + b"".join(struct.pack("<Q", d) for d in dims)
        out += struct.pack("<IQ", gt, offset)
        pad = (alignment - len(raw) % alignment) % alignment
        blobs += raw + b"\0" * pad
        offset += len(raw) + pad
    out += b"\0" * ((alignment - len(out) % alignment) % alignment)
    return out + blobs


def nested_list(depth):
    return "[" * depth + "1" + "]" * depth


def stories_config():
    with open(os.path.join(STORIES, "config.json")) as f:
        return json.load(f)


def stories_tokenizer():
    with open(os.path.join(STORIES, "tokenizer.json")) as f:
        return json.load(f)


def tiny_tokenizer(**changes):
    t = {"version": "1.0", "added_tokens": [], "normalizer": None, "pre_tokenizer": None,
         "post_processor": None, "decoder": None,
         "model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b"]}}
    for k, v in changes.items():
        if k == "vocab":
            t["model"]["vocab"] = v
        else:
            t[k] = v
    return json.dumps(t)


def nested_sequence(levels, kind="normalizer"):
    key = {"normalizer": "normalizers", "pre_tokenizer": "pretokenizers", "decoder": "decoders"}[kind]
    leaf = {"normalizer": '{"type":"Lowercase"}', "pre_tokenizer": '{"type":"Whitespace"}',
            "decoder": '{"type":"Fuse"}'}[kind]
    return '{"type":"Sequence","%s":[' % key * levels + leaf + "]}" * levels


def regressions():
    """(target, file name, bytes, expected error part)."""
    cfg = stories_config()
    big = dict(cfg)
    big.update(vocab_size=10**9, hidden_size=10**6)
    layer_types_deep = json.dumps(cfg)[:-1] + ', "layer_types": ' + nested_list(10000) + "}"
    shape_deep = '{"w": {"dtype": "F32", "shape": %s, "data_offsets": [0, 0]}}' % nested_list(10000)
    nested_ifs = "{% if true %}" * 1000 + "x" + "{% endif %}" * 1000
    nested_fors = "{% for i in [1] %}" * 1000 + "x" + "{% endfor %}" * 1000
    st_stoull = safetensors([("model.layers.123456789012345678901234567890.weight", "F32", [1], b"\0" * 4),
                             ("model.layers.2.weight", "F32", [1], b"\0" * 4)])
    gguf_empty = gguf([("general.architecture", 8, "llama")], [("token_embd.weight", [0], 0, b"")])
    # Spliced as text: Python's own json module cannot nest that deep.
    seq = lambda n, kind: tiny_tokenizer(**{kind: "@SEQ@"}).replace('"@SEQ@"', nested_sequence(n, kind))
    return [
        # 1. Jinja nesting
        ("chat_template", "01-parens-5000", "{{ " + "(" * 5000 + "1" + ")" * 5000 + " }}", "nests"),
        ("chat_template", "01-list-10000", "{{ " + nested_list(10000) + " }}", "nests"),
        ("chat_template", "01-if-1000", nested_ifs, "nests"),
        ("chat_template", "01-for-1000", nested_fors, "nests"),
        ("chat_template", "01-not-chain", "{{ " + "not " * 5000 + "1 }}", "nests"),
        ("chat_template", "01-attr-chain", "{{ a" + ".b" * 5000 + " }}", "nests"),
        ("chat_template", "01-plus-chain", "{{ 1" + " + 1" * 5000 + " }}", "nests"),
        ("chat_template", "01-macro-recursion",
         "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", "maximum recursion depth"),
        ("chat_template", "01-built-value",
         "{% set ns = namespace(x=1) %}{% for i in range(5000) %}{% set ns.x = [ns.x] %}{% endfor %}{{ ns.x }}",
         "nests more than"),
        # 2. error messages that dumped a nested value
        ("safetensors", "02-shape-nested-10000", safetensors([], header_override=shape_deep), "JSON nests"),
        ("hf_config", "02-layer-types-nested-10000", layer_types_deep, "JSON nests"),
        ("bpw_map", "02-value-nested-10000", '{"model.layers.0.mlp.up_proj": %s}' % nested_list(10000), "JSON nests"),
        ("bpw_map", "02-value-long-string", json.dumps({"x": "y" * 20000}), "expected an integer bpw"),
        # 3. tokenizer.json Sequence recursion
        ("tokenizer", "03-sequence-2000", seq(2000, "normalizer"), "JSON nests"),
        ("tokenizer", "03-normalizer-sequence-20", seq(20, "normalizer"), "Sequence nests more than"),
        ("tokenizer", "03-pretokenizer-sequence-20", seq(20, "pre_tokenizer"), "Sequence nests more than"),
        ("tokenizer", "03-decoder-sequence-20", seq(20, "decoder"), "Sequence nests more than"),
        # 4. lying vocab ids
        ("tokenizer", "04-vocab-id-460879073", tiny_tokenizer(vocab={"a": 0, "b": 1, "ab": 460879073}),
         "far beyond the vocab"),
        ("tokenizer", "04-vocab-id-int32-max", tiny_tokenizer(vocab={"a": 0, "b": 1, "ab": 2**31 - 1}),
         "far beyond the vocab"),
        ("tokenizer", "04-added-token-id-float",
         tiny_tokenizer(added_tokens=[{"id": 1e10, "content": "<x>", "special": True}]), "no valid \"id\""),
        # 5. counts that size allocations
        ("hf_config", "05-layers-1e10", json.dumps(dict(cfg, num_hidden_layers=10**10)), "num_hidden_layers"),
        ("hf_config", "05-layers-1e15", json.dumps(dict(cfg, num_hidden_layers=10**15)), "num_hidden_layers"),
        # 6. Jinja work and size budget
        ("chat_template", "06-repeat-4e9", "{{ 'x' * 4000000000 }}", "exceeds the template limit"),
        ("chat_template", "06-list-repeat", "{{ [1, 2] * 4000000000 }}", "exceeds the template limit"),
        ("chat_template", "06-nested-loops",
         "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}", "steps"),
        ("chat_template", "06-doubling",
         "{% set ns = namespace(s='xxxxxxxxxxxxxxxx') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}"
         "{% endfor %}{{ ns.s | length }}", "beyond the limit"),
        ("chat_template", "06-indent-width", "{{ 'a\\nb' | indent(4000000000) }}", "beyond the template limit"),
        ("chat_template", "06-center-width", "{{ 'a' | center(4000000000) }}", "beyond the template limit"),
        ("chat_template", "06-tojson-indent", "{{ [1] | tojson(indent=4000000000) }}", "beyond the template limit"),
        # 7. signed overflow in parameter counts
        ("hf_config", "07-large-dims", json.dumps(big), "beyond the largest"),
        ("sensitivity", "07-rows-cols-2e32",
         json.dumps({"format": "glq-sensitivity", "version": 2, "layers": [
             {"name": "model.layers.0.mlp.up_proj", "rows": 2**32, "cols": 2**32, "proxy_loss": {"2": 1.0, "4": 0.1}}]}),
         "beyond the largest"),
        # 8. 1e999 through every JSON loader
        ("hf_config", "08-1e999", json.dumps(cfg)[:-1] + ', "rope_theta": 1e999}', "not valid JSON"),
        ("generation_config", "08-1e999", '{"temperature": 1e999}', "not valid JSON"),
        ("tokenizer", "08-1e999", tiny_tokenizer()[:-1] + ', "x": 1e999}', "not valid JSON"),
        ("bpw_map", "08-1e999", '{"default": 1e999}', "not valid JSON"),
        ("sensitivity", "08-1e999", '{"format": "glq-sensitivity", "version": 1e999}', "not valid JSON"),
        ("safetensors", "08-1e999", safetensors([], header_override='{"w": {"dtype": "F32", "shape": [1e999], '
                                                                     '"data_offsets": [0, 4]}}'), "not valid JSON"),
        ("hf_config", "08-wrong-types", json.dumps(dict(cfg, architectures="LlamaForCausalLM", rope_scaling=[1])),
         "config.json"),
        ("tokenizer", "08-wrong-types", tiny_tokenizer(normalizer={"type": "Prepend", "prepend": 5}),
         "tokenizer.json"),
        # 9. a 30-digit run in a tensor name (glqw info sorts names by number)
        ("safetensors", "09-30-digit-name", st_stoull, ""),
        # 10. a zero-element GGUF tensor (memcpy(nullptr, ..., 0))
        ("gguf", "10-zero-element-f32", gguf_empty, ""),
    ]


def write_regressions():
    out = os.path.join(FUZZ, "regressions")
    expected = {}
    for target, name, data, want in regressions():
        d = os.path.join(out, target)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, name), "wb") as f:
            f.write(data.encode() if isinstance(data, str) else data)
        expected[target + "/" + name] = want
    # Keep the reproducers that fuzzing found later (added by hand).
    path = os.path.join(out, "expected.json")
    if os.path.exists(path):
        with open(path) as f:
            old = json.load(f)
        for k, v in old.items():
            expected.setdefault(k, v)
    with open(path, "w") as f:
        json.dump(dict(sorted(expected.items())), f, indent=1)
        f.write("\n")


def write_corpus():
    out = os.path.join(FUZZ, "corpus")
    def put(target, name, data):
        d = os.path.join(out, target)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, name), "wb") as f:
            f.write(data.encode() if isinstance(data, str) else data)
    def copy(target, src, name=None):
        put(target, name or os.path.basename(src), open(src, "rb").read())
    cfgs = os.path.join(ROOT, "tests", "data", "configs")
    for f in sorted(os.listdir(cfgs)):
        if f.endswith(".json") and f != "expected.json":
            copy("hf_config", os.path.join(cfgs, f))
    copy("hf_config", os.path.join(STORIES, "config.json"), "stories260K.json")
    copy("generation_config", os.path.join(STORIES, "generation_config.json"), "stories260K.json")
    put("generation_config", "sampling.json", json.dumps({"do_sample": True, "temperature": 0.7, "top_p": 0.9,
        "top_k": 50, "min_p": 0.05, "repetition_penalty": 1.1, "eos_token_id": [2, 7], "max_new_tokens": 64}))
    copy("tokenizer", os.path.join(STORIES, "tokenizer.json"), "stories260K.json")
    bl = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}
    put("tokenizer", "byte-level.json", tiny_tokenizer(pre_tokenizer=bl, decoder=bl, post_processor=bl,
        added_tokens=[{"id": 3, "content": "<|im_start|>", "special": True, "normalized": False}]))
    put("tokenizer", "sequences.json", tiny_tokenizer(
        normalizer={"type": "Sequence", "normalizers": [{"type": "NFC"}, {"type": "Lowercase"},
                    {"type": "Strip", "strip_left": True, "strip_right": True}]},
        pre_tokenizer={"type": "Sequence", "pretokenizers": [{"type": "Digits", "individual_digits": True},
                       {"type": "Punctuation"}, {"type": "Metaspace", "replacement": "\u2581"}]},
        decoder={"type": "Sequence", "decoders": [{"type": "Metaspace", "replacement": "\u2581"},
                 {"type": "ByteFallback"}, {"type": "Fuse"}]},
        post_processor={"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "a", "type_id": 0}},
                        {"Sequence": {"id": "A", "type_id": 0}}], "pair": [],
                        "special_tokens": {"a": {"id": "a", "ids": [0], "tokens": ["a"]}}}))
    tmpl = os.path.join(ROOT, "tests", "data", "chat_templates")
    for f in sorted(os.listdir(tmpl)):
        if f.endswith(".jinja"):
            copy("chat_template", os.path.join(tmpl, f))
    put("chat_template", "features.jinja",
        "{% set ns = namespace(n=0) %}{% macro m(x, y=2) %}{{ x ~ y }}{% endmacro %}"
        "{% for k, v in {'a': 1, 'b': [1, 2.5, none]}.items() if k != 'c' %}{{ loop.index }}{{ k|upper }}"
        "{{ v|tojson }}{% set ns.n = ns.n + 1 %}{% else %}empty{% endfor %}{{ m(1) }}{{ ns.n is even }}"
        "{{ 'a,b'.split(',')|join('-') }}{{ messages[0].content[1:3] }}{{ (1, 2)|list|length }}"
        "{% filter upper %}x{% endfilter %}{% if tools is not none %}{{ tools|tojson(indent=2) }}{% endif %}"
        "{{ raise_exception('x') if false else 7 // 2 }}")
    gg = os.path.join(ROOT, "tests", "data", "gguf")
    for f in ("metadata.gguf", "tiny-llama.gguf"):
        copy("gguf", os.path.join(gg, f))
    put("gguf", "tokenizer-only.gguf", gguf([("general.architecture", 8, "llama"),
        ("tokenizer.ggml.model", 8, "gpt2"), ("tokenizer.ggml.tokens", 9, ["a", "b", "ab"]),
        ("tokenizer.ggml.merges", 9, ["a b"])], [("t", [4], 0, b"\0" * 16)]))
    copy("safetensors", os.path.join(gg, "tiny-llama.hf-qk.safetensors"))
    put("safetensors", "dtypes.safetensors", safetensors(
        [("a.weight", "F32", [2, 2], b"\0" * 16), ("b", "BF16", [3], b"\0" * 6), ("c", "I64", [0], b""),
         ("layers.10.x", "U8", [4], b"\1" * 4)], metadata={"format": "pt"}))
    put("bpw_map", "reference.json", json.dumps({"model.layers.0.self_attn.q_proj": 2,
        "model.layers.0.mlp.down_proj": 4, "default": 3}))
    put("bpw_map", "floats.json", json.dumps({"model.layers.0.self_attn.q_proj": 4.0, "lm_head": 8}))
    put("sensitivity", "v2.json", json.dumps({"format": "glq-sensitivity", "version": 2, "model": "m", "layers": [
        {"name": "model.layers.0.self_attn.q_proj", "rows": 64, "cols": 64,
         "proxy_loss": {str(b): 0.1 * 4 ** -b for b in range(2, 9)}, "relative_error": {"2": 0.06, "3": 0.015}},
        {"name": "model.layers.0.mlp.down_proj", "rows": 64, "cols": 172, "proxy_loss": {"2": 0.3}}]}))
    put("sensitivity", "v1.json", json.dumps({"format": "glq-sensitivity", "version": 1, "layers": [
        {"name": "l", "rows": 8, "cols": 8, "proxy_loss": {"2": 1.0, "8": 0.001}}]}))


def write_hostile(out):
    """Model folders based on stories260K, each with one hostile file, and
    loose files for glqw allocate / --bpw-map."""
    cfg = stories_config()
    def model(name, **files):
        d = os.path.join(out, name)
        if os.path.exists(d):
            shutil.rmtree(d)
        os.makedirs(d)
        for f in ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "generation_config.json"):
            shutil.copy(os.path.join(STORIES, f), os.path.join(d, f))
        for f, data in files.items():
            f = f.replace("__", ".").replace("_dot_", ".")
            with open(os.path.join(d, f), "wb") as fh:
                fh.write(data.encode() if isinstance(data, str) else data)
    def with_template(t):
        tc = json.load(open(os.path.join(STORIES, "tokenizer_config.json")))
        tc["chat_template"] = t
        return json.dumps(tc)
    def loose(name, data):
        with open(os.path.join(out, name), "wb") as fh:
            fh.write(data.encode() if isinstance(data, str) else data)
    os.makedirs(out, exist_ok=True)
    tok = stories_tokenizer()
    # 1. Jinja nesting, full size (glqw generate)
    model("01-parens-5000", tokenizer_config__json=with_template("{{ " + "(" * 5000 + "1" + ")" * 5000 + " }}"))
    model("01-list-10000", tokenizer_config__json=with_template("{{ " + nested_list(10000) + " }}"))
    model("01-if-30000", tokenizer_config__json=with_template("{% if true %}" * 30000 + "{% endif %}" * 30000))
    model("01-for-30000", tokenizer_config__json=with_template("{% for i in [1] %}" * 30000 + "{% endfor %}" * 30000))
    # 2. deep values in error paths (glqw info)
    shape_deep = '{"w": {"dtype": "F32", "shape": %s, "data_offsets": [0, 0]}}' % nested_list(100000)
    model("02-shape-100000", model_dot_safetensors=safetensors([], header_override=shape_deep))
    model("02-layer-types-100000", config__json=json.dumps(cfg)[:-1] + ', "layer_types": ' + nested_list(100000) + "}")
    loose("02-bpw-map-100000.json", '{"model.layers.0.mlp.up_proj": %s}' % nested_list(100000))
    # 3. Sequence 50,000 deep (glqw generate)
    model("03-sequence-50000", tokenizer__json=json.dumps(tok)[:-1] + ', "decoder": ' + nested_sequence(50000, "decoder") + "}")
    # 4. lying vocab ids
    t4 = json.loads(json.dumps(tok)); t4["model"]["vocab"]["zz"] = 460879073
    model("04-vocab-id-460879073", tokenizer__json=json.dumps(t4))
    t4["model"]["vocab"]["zz"] = 2**31 - 1
    model("04-vocab-id-int32-max", tokenizer__json=json.dumps(t4))
    # 5. layer counts
    model("05-layers-1e10", config__json=json.dumps(dict(cfg, num_hidden_layers=10**10)))
    model("05-layers-1e15", config__json=json.dumps(dict(cfg, num_hidden_layers=10**15)))
    # 6. Jinja budget
    model("06-repeat-4e9", tokenizer_config__json=with_template("{{ 'x' * 4000000000 }}"))
    model("06-nested-loops", tokenizer_config__json=with_template(
        "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"))
    # 7. parameter-count overflow: a large but "valid" config, and a table for glqw allocate
    model("07-large-config", config__json=json.dumps(dict(cfg, vocab_size=2**31, hidden_size=2**31 // 8 * 8,
                                                          intermediate_size=2**33, num_hidden_layers=64)))
    loose("07-sensitivity-2e32.json", json.dumps({"format": "glq-sensitivity", "version": 2, "layers": [
        {"name": "model.layers.0.mlp.up_proj", "rows": 2**32, "cols": 2**32, "proxy_loss": {"2": 1.0, "4": 0.1}},
        {"name": "model.layers.0.mlp.down_proj", "rows": 2**32, "cols": 2**31, "proxy_loss": {"2": 1.0, "4": 0.1}}]}))
    # 8. 1e999 in each file of a model folder, and in the loose files
    model("08-config-1e999", config__json=json.dumps(cfg)[:-1] + ', "rope_theta": 1e999}')
    model("08-tokenizer-1e999", tokenizer__json=json.dumps(tok)[:-1] + ', "x": 1e999}')
    model("08-tokenizer-config-1e999", tokenizer_config__json='{"bos_token": "<s>", "x": 1e999}')
    model("08-generation-config-1e999", generation_config__json='{"temperature": 1e999}')
    loose("08-bpw-map-1e999.json", '{"default": 1e999}')
    loose("08-sensitivity-1e999.json", '{"format": "glq-sensitivity", "version": 1e999}')
    # 9. a 30-digit tensor name (glqw info must sort it, not fail)
    with open(os.path.join(STORIES, "model.safetensors"), "rb") as f:
        raw = f.read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    name = next(k for k in header if k.startswith("model.layers.0."))
    header[name.replace("layers.0.", "layers.123456789012345678901234567890.")] = header.pop(name)
    text = json.dumps(header).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    model("09-30-digit-name", model_dot_safetensors=struct.pack("<Q", len(text)) + text + raw[8 + n:])
    # 10. zero-element GGUF tensor (glqw import-gguf)
    loose("10-zero-element.gguf", gguf([("general.architecture", 8, "llama")], [("token_embd.weight", [0], 0, b"")]))


if __name__ == "__main__":
    what = sys.argv[1] if len(sys.argv) > 1 else ""
    if what == "regressions":
        write_regressions()
    elif what == "corpus":
        write_corpus()
    elif what == "hostile" and len(sys.argv) == 3:
        write_hostile(sys.argv[2])
    else:
        sys.exit(__doc__)
