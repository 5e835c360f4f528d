"""`glqw generate` through the chat session (core/session/chat_session.h).

On stories260K (no chat template of its own: the session's plain template,
encoded with the tokenizer's special tokens, which is what --raw feeds):
- greedy --prompt --raw and greedy --prompt give the same ids;
- --chat on stdin: the first answer is that same text, /reset forgets the
  conversation (the same question gets the same answer again), /exit quits;
- usage errors: --raw with --chat or --system, --max-tokens 0, a bad --dtype
  named as the option.

Run by CTest (env GLQW = path of glqw, GLQ_SHARED_DATA); exit 0 = pass, 1 = fail.
"""
import os
import pathlib
import subprocess
import sys

FAILURES = []


def check(cond, message):
    if not cond:
        FAILURES.append(message)
        print("FAIL:", message)


def glqw(*args, stdin=None):
    return subprocess.run([os.environ["GLQW"], *map(str, args)], capture_output=True, text=True, input=stdin,
                          timeout=300)


def ids_of(stdout):
    lines = [l for l in stdout.splitlines() if l.startswith("ids:")]
    return [int(x) for x in lines[-1][4:].strip().split(",")] if lines else None


def main() -> int:
    if not os.environ.get("GLQW") or not pathlib.Path(os.environ["GLQW"]).exists():
        print("GLQW does not name the built glqw binary; run through CTest")
        return 1
    shared = pathlib.Path(os.environ.get("GLQ_SHARED_DATA", "../shared/data"))
    model = shared / "models" / "stories260K"
    greedy = ["--temperature", "0", "--max-tokens", "24", "--repeat-penalty", "1"]
    prompt = "Once upon a time"

    raw = glqw("generate", model, "--prompt", prompt, "--raw", "--print-ids", *greedy)
    check(raw.returncode == 0, f"--raw failed: {raw.stderr}")
    plain = glqw("generate", model, "--prompt", prompt, "--print-ids", "--stats", *greedy)
    check(plain.returncode == 0, f"--prompt failed: {plain.stderr}")
    check(ids_of(raw.stdout) and ids_of(raw.stdout) == ids_of(plain.stdout),
          f"--raw and the plain template differ: {ids_of(raw.stdout)} vs {ids_of(plain.stdout)}")
    check("prompt tokens" in plain.stderr and "tok/s" in plain.stderr, f"--stats printed no stats: {plain.stderr}")
    answer = raw.stdout.split("\nids:")[0].strip()
    check(answer, "the greedy answer is empty")

    chat = glqw("generate", model, "--chat", *greedy, stdin=f"{prompt}\n/reset\n{prompt}\n/exit\n")
    check(chat.returncode == 0, f"--chat failed: {chat.stderr}")
    check("(conversation cleared)" in chat.stderr, f"/reset said nothing: {chat.stderr}")
    turns = [t.strip() for t in chat.stdout.split("> ") if t.strip()]
    check(len(turns) == 2, f"expected two answers, got {turns!r}")
    check(all(t == answer for t in turns), f"the chat's answers {turns!r} differ from --raw's {answer!r}")

    for args, what in [(["--chat", "--raw"], "--raw"), (["--prompt", "x", "--raw", "--system", "s"], "--system"),
                       (["--prompt", "x", "--max-tokens", "0"], "--max-tokens"),
                       (["--prompt", "x", "--dtype", "f8"], "--dtype")]:
        run = glqw("generate", model, *args, stdin="")
        check(run.returncode != 0 and what in run.stderr, f"{args}: exit {run.returncode}, {run.stderr!r}")
    if FAILURES:
        print(f"{len(FAILURES)} failure(s)")
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
