#!/usr/bin/env python3
"""HF transformers' decode speed at batch 1: the peer figure for `glqw bench-engine`.

Measures prefill tok/s and decode tok/s of `model.generate` (greedy, fixed
number of new tokens, EOS ignored) for
  * a Llama-3.2-1B-shaped model with random weights (same shape and seed
    convention as `glqw bench-engine --random-llama-1b`), and
  * an HF model directory (e.g. the demo model), if given,
in two modes: eager (dynamic cache) and static cache + torch.compile.
Timing: CUDA-synchronised wall clock, warm-up runs excluded, median of repeats.

usage: bench_hf_generate.py [--model DIR] [--prompt-tokens 128] [--new-tokens 256]
                            [--repeats 5] [--json OUT.json]
"""
import argparse
import json
import statistics
import time

import torch
import transformers
from transformers import AutoModelForCausalLM, LlamaConfig, LlamaForCausalLM


def llama_1b_config():
    return LlamaConfig(
        vocab_size=128256, hidden_size=2048, intermediate_size=8192, num_hidden_layers=16,
        num_attention_heads=32, num_key_value_heads=8, head_dim=64, max_position_embeddings=131072,
        rms_norm_eps=1e-5, rope_theta=500000.0, tie_word_embeddings=True,
        rope_scaling={"rope_type": "llama3", "factor": 32.0, "low_freq_factor": 1.0,
                      "high_freq_factor": 4.0, "original_max_position_embeddings": 8192},
        bos_token_id=128000, eos_token_id=128001)


def llama_8b_config():
    return LlamaConfig(
        vocab_size=128256, hidden_size=4096, intermediate_size=14336, num_hidden_layers=32,
        num_attention_heads=32, num_key_value_heads=8, head_dim=128, max_position_embeddings=8192,
        rms_norm_eps=1e-5, rope_theta=500000.0, tie_word_embeddings=False,
        bos_token_id=128000, eos_token_id=128001)


def sync():
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def timed(fn):
    sync()
    t0 = time.perf_counter()
    out = fn()
    sync()
    return time.perf_counter() - t0, out


def measure(model, vocab, prompt_tokens, new_tokens, repeats, compiled):
    gen = torch.Generator().manual_seed(0)
    ids = torch.randint(0, vocab, (1, prompt_tokens), generator=gen).to(model.device)
    kwargs = dict(do_sample=False, min_new_tokens=new_tokens, max_new_tokens=new_tokens,
                  pad_token_id=0)
    if compiled:
        # transformers compiles the forward itself (reduce-overhead, CUDA
        # graphs) when generate() runs with a static cache; compiling it by
        # hand on top trips over its cache updates.
        kwargs.update(cache_implementation="static")
    # Prefill alone = generate 1 token; decode rate from the difference.
    for _ in range(3):  # warm-up (compilation, graph capture, allocator)
        model.generate(ids, **{**kwargs, "min_new_tokens": 1, "max_new_tokens": 1})
        model.generate(ids, **kwargs)
    prefill, total = [], []
    for _ in range(repeats):
        t1, _ = timed(lambda: model.generate(ids, **{**kwargs, "min_new_tokens": 1, "max_new_tokens": 1}))
        tn, out = timed(lambda: model.generate(ids, **kwargs))
        assert out.shape[1] == prompt_tokens + new_tokens, out.shape
        prefill.append(t1)
        total.append(tn)
    p = statistics.median(prefill)
    t = statistics.median(total)
    return {"prefill_tok_s": prompt_tokens / p, "decode_tok_s": (new_tokens - 1) / (t - p),
            "prefill_s": p, "total_s": t}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model")
    ap.add_argument("--prompt-tokens", type=int, default=128)
    ap.add_argument("--new-tokens", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--json")
    ap.add_argument("--skip-eager", action="store_true")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--dtype", default="bf16", choices=["bf16", "f32"])
    ap.add_argument("--skip-random", action="store_true", help="only the --model directory")
    ap.add_argument("--eager-only", action="store_true")
    ap.add_argument("--random-8b", action="store_true", help="also a Llama-3-8B-shaped model with random weights")
    args = ap.parse_args()
    torch.manual_seed(0)
    results = {"transformers": transformers.__version__, "torch": torch.__version__,
               "device": torch.cuda.get_device_name(0) if args.device.startswith("cuda") else "cpu", "runs": []}
    targets = [] if args.skip_random else [("llama-1b-random", None, llama_1b_config)]
    if args.random_8b:
        targets.append(("llama-8b-random", None, llama_8b_config))
    if args.model:
        targets.append((args.model, args.model, None))
    for name, path, make_config in targets:
        modes = (False,) if args.eager_only else ((True,) if args.skip_eager else (False, True))
        for compiled in modes:
            torch._dynamo.reset()
            dtype = torch.bfloat16 if args.dtype == "bf16" else torch.float32
            if path is None:
                with torch.device(args.device):
                    model = LlamaForCausalLM(make_config()).to(dtype)
            else:
                model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype).to(args.device)
            model.eval()
            model.generation_config.eos_token_id = None
            with torch.inference_mode():
                r = measure(model, model.config.vocab_size, args.prompt_tokens, args.new_tokens,
                            args.repeats, compiled)
            r.update(model=name, mode="static+compile" if compiled else "eager")
            print(json.dumps(r), flush=True)
            results["runs"].append(r)
            del model
            torch.cuda.empty_cache()
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
