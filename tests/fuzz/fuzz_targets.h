#pragma once
// The parsers the fuzz harnesses drive, one entry point each, shared by the
// libFuzzer harnesses (tests/fuzz/fuzz_*.cpp, clang build of tools/fuzz.sh)
// and by test_fuzz_regressions (the regular build), which runs every checked-in
// reproducer (tests/fuzz/regressions/<target>/) through the same code.
//
// Each target feeds the bytes to the real loader as a user's file would reach
// it (a file on disk where the loader takes a path) and then uses the result
// the way `glqw info` / `generate` / `allocate` do. A clean rejection is a
// glq::Error, which the target returns as Outcome::Rejected; any other
// exception escapes, and a crash is a crash: those are the findings.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace glq::fuzz {

enum class Outcome { Accepted, Rejected };

struct Result {
    Outcome outcome = Outcome::Accepted;
    std::string error;  // the glq::Error's text when rejected
};

// Names of the targets: safetensors, gguf, hf_config, tokenizer,
// chat_template, generation_config, bpw_map, sensitivity.
const std::vector<std::string>& target_names();

// Runs one input through `target`; throws std::invalid_argument for an unknown target.
Result run_target(std::string_view target, std::string_view bytes);

} // namespace glq::fuzz
