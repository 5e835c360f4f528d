// One libFuzzer harness per parser: this file is built once for each target
// of fuzz_targets.h, with GLQ_FUZZ_TARGET naming it (tests/fuzz/CMakeLists.txt),
// so every harness runs exactly the code the regression test runs.

#include <cstddef>
#include <cstdint>

#include "tests/fuzz/fuzz_targets.h"

#include <cstdlib>

// fuzz_all: the target named by $GLQ_FUZZ_TARGET.
[[maybe_unused]] static const char* glq_fuzz_target_from_env() {
    static const char* t = [] {
        const char* v = std::getenv("GLQ_FUZZ_TARGET");
        if (!v) std::abort();
        return v;
    }();
    return t;
}

#ifndef GLQ_FUZZ_TARGET
#error "GLQ_FUZZ_TARGET must name a target of fuzz_targets.h"
#endif

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    glq::fuzz::run_target(GLQ_FUZZ_TARGET, {reinterpret_cast<const char*>(data), size});
    return 0;
}
