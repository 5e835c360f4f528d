#!/usr/bin/env python3
"""Goldens for the C++ tokenizer (tests/io/test_tokenizer.cpp), from HF `tokenizers`.

Writes tests/data/tokenizer/:
  texts.json             the test strings: samples of wiki.test.raw, brown.txt and
                         tinyshakespeare, every llama.cpp tokenizer vector, and
                         adversarial strings (emoji, ZWJ, flags, CJK, scripts,
                         combining marks, NFC/NFD pairs, whitespace runs, digits,
                         contractions, special tokens mid-text, odd bytes, "").
  golden_<name>.json     per tokenizer: ids without / with add_special_tokens,
                         HF's decode of them (stored only where it differs from
                         the text), and the id count + FNV-1a hash of all of
                         wiki.test.raw encoded at once.
  split_patterns.json    HF's Split(Regex, "isolated") pieces of each string for
                         the GPT-2, Llama-3 and Qwen2 patterns.
  normalization.json     NFC of the NFD form of every code point with a canonical
                         decomposition and of reordering cases (Python's
                         unicodedata, the source of the NFC tables), and HF's
                         Lowercase of every character it changes.

Llama-3: Meta's tokenizer.json is not redistributable, so "llama3regex" is
GPT-2's tokenizer.json with the Llama-3 Split regex swapped in as its
pre-tokenizer. "metaspace" and "pieces" likewise swap components into real
files to cover the rest of the format. Each golden carries its "overrides"
and the C++ test applies the same ones.

Run: .venv/bin/python tests/python/gen_tokenizer_goldens.py [shared_data_dir]
"""
import json
import os
import sys
from pathlib import Path

import tokenizers
from tokenizers import Regex, Tokenizer, pre_tokenizers

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "data" / "tokenizer"

GPT2_REGEX = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
LLAMA3_REGEX = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
QWEN2_REGEX = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""

LLAMA3_PRE_TOKENIZER = {
    "type": "Sequence",
    "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": LLAMA3_REGEX}, "behavior": "Isolated", "invert": False},
        {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False},
    ],
}

# Newer SentencePiece-style files (Mistral, Llama 2 re-exports): Metaspace
# pre-tokenizer and decoder instead of Prepend/Replace normalizers.
METASPACE_OVERRIDES = {
    "normalizer": None,
    "pre_tokenizer": {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "first", "split": True},
    "decoder": {"type": "Sequence", "decoders": [
        {"type": "ByteFallback"},
        {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "first", "split": True},
        {"type": "Fuse"},
    ]},
}

# The other pieces of the format on the GPT-2 vocab: normalizers Strip,
# Lowercase, NFC, Replace; pre-tokenizers WhitespaceSplit, Split (String, each
# behaviour), Punctuation, Digits (runs), ByteLevel with add_prefix_space;
# added tokens with lstrip / rstrip / single_word / normalized; a template
# post-processor with a suffix; and Replace/Strip decoders.
PIECES_OVERRIDES = {
    "normalizer": {"type": "Sequence", "normalizers": [
        {"type": "Strip", "strip_left": True, "strip_right": True},
        {"type": "NFC"},
        {"type": "Lowercase"},
        {"type": "Replace", "pattern": {"String": "``"}, "content": "\""},
    ]},
    "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
        {"type": "WhitespaceSplit"},
        {"type": "Split", "pattern": {"String": "--"}, "behavior": "MergedWithNext", "invert": False},
        {"type": "Split", "pattern": {"String": "'"}, "behavior": "MergedWithPrevious", "invert": False},
        {"type": "Split", "pattern": {"String": "x"}, "behavior": "Removed", "invert": False},
        {"type": "Punctuation", "behavior": "Contiguous"},
        {"type": "Digits", "individual_digits": False},
        {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": False},
    ]},
    "post_processor": {"type": "TemplateProcessing",
                       "single": [{"Sequence": {"id": "A", "type_id": 0}},
                                  {"SpecialToken": {"id": "<|endoftext|>", "type_id": 0}}],
                       "pair": [{"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}],
                       "special_tokens": {"<|endoftext|>": {"id": "<|endoftext|>", "ids": [50256],
                                                             "tokens": ["<|endoftext|>"]}}},
    "decoder": {"type": "Sequence", "decoders": [
        {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        {"type": "Replace", "pattern": {"String": "  "}, "content": " "},
        {"type": "Strip", "content": " ", "start": 1, "stop": 0},  # stop > 0 panics HF on an empty token
    ]},
    "added_tokens": [
        {"id": 50256, "content": "<|endoftext|>", "single_word": False, "lstrip": False, "rstrip": False,
         "normalized": True, "special": True},
        {"id": 50257, "content": "<mask>", "single_word": False, "lstrip": True, "rstrip": False,
         "normalized": False, "special": True},
        {"id": 50258, "content": "<sep>", "single_word": False, "lstrip": False, "rstrip": True,
         "normalized": False, "special": True},
        {"id": 50259, "content": "hello", "single_word": True, "lstrip": False, "rstrip": False,
         "normalized": True, "special": False},
        {"id": 50260, "content": "Café", "single_word": False, "lstrip": False, "rstrip": False,
         "normalized": True, "special": False},
        {"id": 50261, "content": "<|im_start|>", "single_word": False, "lstrip": True, "rstrip": True,
         "normalized": False, "special": False},
    ],
}

# name → (path under the shared data folder, top-level keys replaced or None)
TOKENIZERS = {
    "smollm2": ("tokenizers/smollm2/tokenizer.json", None),
    "qwen3": ("tokenizers/qwen3/tokenizer.json", None),
    "gpt2": ("tokenizers/gpt2/tokenizer.json", None),
    "stories260k": ("models/stories260K/tokenizer.json", None),
    "llama3regex": ("tokenizers/gpt2/tokenizer.json", {"pre_tokenizer": LLAMA3_PRE_TOKENIZER}),
    "metaspace": ("models/stories260K/tokenizer.json", METASPACE_OVERRIDES),
    "pieces": ("tokenizers/gpt2/tokenizer.json", PIECES_OVERRIDES),
}

ADVERSARIAL = [
    "",
    " ",
    "  ",
    "\t",
    "\n",
    "\r\n",
    "a\r\nb\r\n\r\nc",
    "trailing spaces   ",
    "   leading spaces",
    "tabs\tand\t\ttabs \t mixed\t",
    "many\n\n\n\nnewlines\n \n  \n",
    " \n\t \u00a0\u2003\u3000 mixed unicode spaces\u2009here\u202f",
    "Hello world",
    " Hello world",
    "Hello World HELLO hello",
    "I'm you're he's she'll we'd they've it's don't",
    "I'M YOU'RE HE'S SHE'LL WE'D THEY'VE IT'S DON'T 'S 'Ll 'lL",
    "long s: it'ſ and the kelvin 'K",
    "'s'''' ''' 'll'd'",
    "1 12 123 1234 12345 123456 1234567",
    "3.14159 2,718 1e-10 0x1F 1/2 ½ ¾ ⅞ ²³ Ⅻ ٣٤٥ ४५६ ௧௨",
    "$100.00 €50 ¥1000 £3 ₿0.5",
    "email@example.com https://example.org/path?q=1&r=2#frag",
    "snake_case camelCase PascalCase kebab-case SCREAMING_CASE",
    "def f(x):\n    return x**2 + 1  # comment\n\n\tif (a && b) { c[0] = d->e; }\n",
    "Emoji: 😀😃😄 👍🏽 ❤️ 🇺🇸🇯🇵🇩🇪 👨‍👩‍👧‍👦 🏳️‍🌈 🧑🏿‍💻",
    "中文分词测试，这是一个句子。日本語のテキストです。한국어 텍스트입니다.",
    "العربية نص تجريبي مع أرقام ١٢٣",
    "हिन्दी पाठ परीक्षण है।",
    "ภาษาไทยไม่มีช่องว่างระหว่างคำ",
    "Ελληνικά κείμενο ΣΊΣΥΦΟΣ",
    "Русский текст, ПРОПИСНЫЕ буквы.",
    "עברית טקסט",
    "combining: e\u0301 a\u0300 o\u0308 n\u0303 \u1e9b\u0323 q\u0307\u0323",
    "NFC/NFD: caf\u00e9 vs cafe\u0301; \u00c5ngstr\u00f6m vs A\u030angstro\u0308m; \u212b \u2126",
    "Hangul NFD: \u1100\u1161\u11a8 \u1112\u1161\u11ab vs \uac01 \ud55c",
    "zero width: a\u200bb\u200cc\u200dd\ufeffe",
    "replacement char \ufffd and private use \ue000 and noncharacter \ufdd0",
    "<|im_start|>user\nHello!<|im_end|>\n<|im_start|>assistant\n",
    "text<|endoftext|>more text<|endoftext|>",
    "</s> at start and end </s>",
    "<s>Hello</s> <s> spaced </s>  ",
    "<unk> and <pad> and <|im_start|><|im_end|> glued",
    "<|im_start|",
    "<think>\nreasoning\n</think>\n\nanswer",
    "a" * 300,
    "ab" * 150 + " " + "xyz" * 100,
    "!!!???...,,,;;;:::---___***",
    "\u0000\u0001\u0007\u001b[0m\u007f",
    "\u2028line separator\u2029paragraph separator\u0085next line",
    "not White_Space: \x1c\x1d\x1e\x1f a\u180eb c\u200bd \x0b\x0c vertical tab, form feed",
    "word" + "x" * 2000 + " end",
    "mixed: Hello世界123abc!?😀 ok",
    # Letters and digits new in Unicode 15.0 / 15.1 / 16.0 (Kawi, CJK Ext. I,
    # Cyrillic TJE, Garay, Kirat Rai, outlined digits): HF's regex engine knows them.
    "a\U00011F04b 1\U0002EBF0 2 a\u1C89b \u1C89\u1C8A x\U00010D50y \U00016D40\U00016D41 1\U0001CCF02 \U0001CCF0\U0001CCF1\U0001CCF2\U0001CCF3",
    "    \n    indented\n        more\n",
    "   a  b   c    d",
    "``Quoted'' words -- and--dashes x-ray xx 12-34 hello, Hello hellos <mask> x <mask><sep>  y <sep>z",
    "say hello to café Café CAFÉ  <|im_start|>  system  <|im_start|>",
    "The quick brown fox jumps over the lazy dog. " * 5,
]


def read_vectors(shared):
    out = []
    for name in sorted(os.listdir(shared / "tokenizers" / "llamacpp-vectors")):
        if not name.endswith(".inp"):
            continue
        text = (shared / "tokenizers" / "llamacpp-vectors" / name).read_text(encoding="utf-8")
        for s in text.split("\n__ggml_vocab_test__\n"):
            if s not in out:
                out.append(s)
    return out


def chunks(lines, every, size, limit):
    out = []
    for start in range(0, len(lines), every):
        out.append("".join(lines[start:start + size]))
        if len(out) == limit:
            break
    return out


def build_texts(shared):
    wiki = (shared / "wikitext-2-raw" / "wiki.test.raw").read_text(encoding="utf-8").splitlines(keepends=True)
    brown = (shared / "brown" / "brown.txt").read_text(encoding="utf-8").splitlines(keepends=True)
    shakespeare = (shared / "tinyshakespeare" / "input.txt").read_text(encoding="utf-8").splitlines(keepends=True)
    texts = []
    texts += chunks(wiki, 30, 5, 145)
    texts += chunks(brown, 160, 1, 100)
    texts += chunks(shakespeare, 200, 5, 200)
    first_short = len(texts)
    texts += read_vectors(shared)
    texts += ADVERSARIAL
    return texts, first_short


def load(shared, path, overrides):
    data = json.loads((shared / path).read_text(encoding="utf-8"))
    data.update(overrides or {})
    return Tokenizer.from_str(json.dumps(data))


def template_or_full(plain, special):
    """[prefix, suffix] when special == prefix + plain + suffix, else {"full": special}."""
    for p in range(len(special) - len(plain) + 1):
        s = len(special) - len(plain) - p
        if special[p:p + len(plain)] == plain:
            return [special[:p], special[len(special) - s:]]
    return {"full": special}


def fnv1a_bytes(data):
    h = 0xCBF29CE484222325
    for b in data:
        h ^= b
        h = (h * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


def fnv1a(ids):
    """FNV-1a 64 over the ids as little-endian uint32."""
    return fnv1a_bytes(b"".join(int(i).to_bytes(4, "little") for i in ids))


def write_json(path, obj):
    path.write_text(json.dumps(obj, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8")


def main():
    shared = Path(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("GLQ_SHARED_DATA", ROOT.parent / "shared" / "data"))
    OUT.mkdir(parents=True, exist_ok=True)
    texts, first_short = build_texts(shared)
    write_json(OUT / "texts.json", {"tokenizers_version": tokenizers.__version__,
                                    "first_short": first_short, "texts": texts})
    wiki_all = (shared / "wikitext-2-raw" / "wiki.test.raw").read_text(encoding="utf-8")

    for name, (path, overrides) in TOKENIZERS.items():
        tok = load(shared, path, overrides)
        ids, with_special, decoded, decoded_special, decoded_special_skip = [], {}, {}, {}, {}
        for i, text in enumerate(texts):
            plain = tok.encode(text, add_special_tokens=False).ids
            special = tok.encode(text, add_special_tokens=True).ids
            ids.append(plain)
            if special != plain:
                with_special[str(i)] = template_or_full(plain, special)
            d = tok.decode(plain, skip_special_tokens=False)
            if d != text:
                # Sample texts keep only a hash of a differing decode, to keep the goldens small.
                decoded[str(i)] = d if i >= first_short else {"fnv1a64": fnv1a_bytes(d.encode("utf-8"))}
            if i < first_short:
                continue  # the sample texts: only plain decode
            d = tok.decode(special, skip_special_tokens=False)
            if d != text:
                decoded_special[str(i)] = d
            d = tok.decode(special, skip_special_tokens=True)
            if d != text:
                decoded_special_skip[str(i)] = d
        whole = tok.encode(wiki_all, add_special_tokens=False).ids
        golden = {
            "tokenizer": path,
            "overrides": overrides,  # top-level keys of the file replaced before loading
            "ids": ids,
            "ids_with_special": with_special,
            # decode(ids, skip_special_tokens=False) where it is not the text itself
            # (for the sample texts, {"fnv1a64": hash of its UTF-8})
            "decoded": decoded,
            # [prefix, suffix] when ids_with_special = prefix + ids + suffix, else the full list
            # decode(ids_with_special, False) / (…, True) where not the text itself
            # (vectors and adversarial strings only)
            "decoded_with_special": decoded_special,
            "decoded_with_special_skip": decoded_special_skip,
            "wiki_test_raw": {"count": len(whole), "fnv1a64": fnv1a(whole)},
        }
        write_json(OUT / f"golden_{name}.json", golden)
        print(f"{name}: {sum(len(x) for x in ids)} ids over {len(texts)} texts; wiki.test.raw {len(whole)} ids")

    splits = {}
    for pname, regex in (("gpt2", GPT2_REGEX), ("llama3", LLAMA3_REGEX), ("qwen2", QWEN2_REGEX)):
        pre = pre_tokenizers.Split(Regex(regex), behavior="isolated")
        splits[pname] = {"regex": regex,
                         "pieces": [[p for p, _ in pre.pre_tokenize_str(t)] for t in texts[first_short:]]}
    # pieces[k] belongs to texts[first_short + k]
    write_json(OUT / "split_patterns.json", splits)
    write_json(OUT / "normalization.json", normalization_cases())


def normalization_cases():
    import unicodedata
    nfc = []
    for cp in range(0x110000):
        d = unicodedata.decomposition(chr(cp))
        if (d and not d.startswith("<")) or 0xAC00 <= cp <= 0xD7A3 and cp % 97 == 0:
            src = unicodedata.normalize("NFD", chr(cp))
            nfc.append([src, unicodedata.normalize("NFC", src)])
    # Canonical reordering and blocking: marks in both orders, a starter between.
    for src in ["a\u0323\u0301", "a\u0301\u0323", "e\u0301\u0301", "a\u0308\u0304\u0323",
                "\u0301a", "\u1100\u1161\u11a8x", "\u1100\u1161 \u11a8", "\u0c46\u0c56", "\u0cc6\u0cc2\u0cd5",
                "A\u030a\u0328", "\u212b\u2126\u0344", "\u0f71\u0f72\u0f74", "\U0001d15e\U0001d165"]:
        nfc.append([src, unicodedata.normalize("NFC", src)])
    from tokenizers import normalizers
    lc = normalizers.Lowercase()
    lower = []
    for cp in range(0x110000):
        if not 0xD800 <= cp <= 0xDFFF and lc.normalize_str(chr(cp)) != chr(cp):
            lower.append([chr(cp), lc.normalize_str(chr(cp))])
    return {"unicode_version": unicodedata.unidata_version, "nfc": nfc, "lowercase": lower}


if __name__ == "__main__":
    main()
