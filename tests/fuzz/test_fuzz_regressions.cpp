// Every checked-in fuzz reproducer (tests/fuzz/regressions/<target>/*) goes
// through the real loader, as its harness feeds it, and must end in one
// glq::Error whose text holds what regressions/expected.json says (the root
// fix's message, not just any error), within a minute. Built in the regular
// build too, so the findings stay covered without clang. The seed corpora
// (tests/fuzz/corpus/<target>/) must still load: a harness that rejected
// everything would fuzz nothing.

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "tests/fuzz/fuzz_targets.h"
#include "tests/support/test.h"

namespace fs = std::filesystem;
using glq::fuzz::Outcome;

namespace {

fs::path fuzz_dir() {
    const std::string root = glq::test::env("GLQ_SOURCE_DIR");
    return (root.empty() ? fs::current_path() : fs::path(root)) / "tests" / "fuzz";
}

std::string slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::vector<fs::path> files_in(const fs::path& dir) {
    std::vector<fs::path> out;
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) return out;
    for (const auto& e : fs::directory_iterator(dir))
        if (e.is_regular_file() && e.path().filename().string()[0] != '.') out.push_back(e.path());
    std::sort(out.begin(), out.end());
    return out;
}

} // namespace

GLQ_TEST(every_reproducer_is_one_clear_error) {
    const fs::path dir = fuzz_dir() / "regressions";
    const auto expected = nlohmann::json::parse(slurp(dir / "expected.json"));
    std::size_t checked = 0;
    std::string problems;  // all of them, not only the first
    for (const auto& target : glq::fuzz::target_names()) {
        for (const auto& file : files_in(dir / target)) {
            const std::string rel = target + "/" + file.filename().string();
            if (!expected.contains(rel)) {
                problems += "\n  " + rel + " has no entry in regressions/expected.json";
                continue;
            }
            const std::string want = expected[rel].get<std::string>();
            const auto t0 = std::chrono::steady_clock::now();
            glq::fuzz::Result r;
            try {
                r = glq::fuzz::run_target(target, slurp(file));
            } catch (const std::exception& e) {
                problems += "\n  " + rel + ": an exception other than glq::Error escaped: " + e.what();
                continue;
            }
            const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            ++checked;
            std::printf("  %-45s %6.3f s  %s\n", rel.c_str(), s, r.outcome == Outcome::Rejected ? r.error.substr(0, 110).c_str() : "(loads)");
            if (s > 60) problems += "\n  " + rel + " took " + std::to_string(s) + " s";
            if (want.empty()) {  // a valid file whose finding was undefined behaviour
                if (r.outcome != Outcome::Accepted) problems += "\n  " + rel + " should load but: " + r.error;
                continue;
            }
            if (r.outcome != Outcome::Rejected) problems += "\n  " + rel + " was accepted";
            else if (!glq::test::contains(r.error, want))
                problems += "\n  " + rel + ": error \"" + r.error + "\" lacks \"" + want + "\"";
            else if (r.error.find('\n') != std::string::npos || r.error.size() > 2000)
                problems += "\n  " + rel + ": not one short line (" + std::to_string(r.error.size()) + " chars)";
        }
    }
    // Every entry of expected.json has its file (a deleted reproducer fails here).
    for (const auto& [rel, _] : expected.items())
        if (!fs::exists(dir / rel)) problems += "\n  missing reproducer " + rel;
    CHECK_MSG(problems.empty(), problems);
    CHECK(checked >= expected.size());
}

GLQ_TEST(every_target_has_reproducers_and_seeds_that_load) {
    for (const auto& target : glq::fuzz::target_names()) {
        const auto seeds = files_in(fuzz_dir() / "corpus" / target);
        CHECK_MSG(!seeds.empty(), "no seed corpus for " << target);
        std::size_t accepted = 0;
        for (const auto& f : seeds) {
            const auto r = glq::fuzz::run_target(target, slurp(f));
            if (r.outcome == Outcome::Accepted) ++accepted;
        }
        CHECK_MSG(accepted > 0, "no seed of " << target << " loads: the harness would fuzz only its error paths");
    }
}
