#include "tests/support/test.h"

#include <execinfo.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <random>

#ifdef GLQ_TEST_CONFIGURE_THREADS
#include "core/session/compute_threads.h"
#endif

namespace glq::test {
namespace {

struct Case {
    const char* name;
    TestFn fn;
    const char* file;
    int line;
};

std::vector<Case>& registry() {
    static std::vector<Case> cases;
    return cases;
}

std::filesystem::path g_temp;
const char* g_current = nullptr;  // the running case, for the crash report

// A crash in a test (e.g. on a GPU server we can only reach in batch runs)
// should say which case died and where, not just "SEGFAULT". Only
// async-signal-safe calls here; backtrace() is preloaded in main().
void write_err(const char* s) {
    if (s) (void)!::write(STDERR_FILENO, s, std::strlen(s));
}

extern "C" void report_crash(int sig) {
    write_err("\n*** fatal signal ");
    write_err(sig == SIGSEGV ? "SIGSEGV" : sig == SIGABRT ? "SIGABRT" : sig == SIGBUS ? "SIGBUS"
              : sig == SIGFPE ? "SIGFPE" : "SIGILL");
    write_err(" in test case ");
    write_err(g_current ? g_current : "(none: static initialisation or exit)");
    write_err("; backtrace:\n");
    void* frames[64];
    const int n = backtrace(frames, 64);
    backtrace_symbols_fd(frames, n, STDERR_FILENO);
    std::signal(sig, SIG_DFL);
    std::raise(sig);
}

void install_crash_report() {
    void* warm[1];
    backtrace(warm, 1);  // loads libgcc now: the first call may allocate
    for (int sig : {SIGSEGV, SIGABRT, SIGBUS, SIGFPE, SIGILL}) std::signal(sig, report_crash);
}

} // namespace

Registrar::Registrar(const char* name, TestFn fn, const char* file, int line) {
    registry().push_back({name, fn, file, line});
}

void fail(const std::string& message, const char* file, int line) {
    std::ostringstream ss;
    ss << file << ":" << line << ": " << message;
    throw Failure{ss.str()};
}

void skip(const std::string& reason) { throw Skipped{reason}; }

std::string env(const char* name) {
    const char* v = std::getenv(name);
    return v ? std::string(v) : std::string();
}

static std::filesystem::path env_path(const char* name, const char* fallback) {
    auto v = env(name);
    return v.empty() ? std::filesystem::path(fallback) : std::filesystem::path(v);
}

std::filesystem::path shared_data() { return env_path("GLQ_SHARED_DATA", "../shared/data"); }
std::filesystem::path test_data() { return env_path("GLQ_TEST_DATA", "tests/data"); }

std::filesystem::path temp_dir() {
    if (g_temp.empty()) {
        std::random_device rd;
        g_temp = std::filesystem::temp_directory_path() /
                 ("glq-test-" + std::to_string(rd()) + "-" + std::to_string(rd()));
        std::filesystem::create_directories(g_temp);
    }
    return g_temp;
}

bool contains(std::string_view haystack, std::string_view needle) {
    return haystack.find(needle) != std::string_view::npos;
}

} // namespace glq::test

int main(int argc, char** argv) {
    using namespace glq::test;
    install_crash_report();
#ifdef GLQ_TEST_CONFIGURE_THREADS
    // As glqw and the GUI do: LibTorch computes with no more threads than cores.
    glq::session::configure_compute_threads();
#endif
    std::string filter = argc > 1 ? argv[1] : "";
    int passed = 0, failed = 0, skipped = 0;
    for (const auto& c : registry()) {
        if (!filter.empty() && std::string(c.name).find(filter) == std::string::npos) continue;
        auto t0 = std::chrono::steady_clock::now();
        std::string outcome;
        g_current = c.name;
        try {
            c.fn();
            ++passed;
            outcome = "ok";
        } catch (const Failure& f) {
            ++failed;
            outcome = "FAILED\n    " + f.message;
        } catch (const Skipped& s) {
            ++skipped;
            outcome = "skipped (" + s.reason + ")";
        } catch (const std::exception& e) {
            ++failed;
            outcome = std::string("FAILED\n    unexpected exception: ") + e.what();
        } catch (...) {
            ++failed;
            outcome = "FAILED\n    unknown exception";
        }
        if (!g_temp.empty()) {
            std::error_code ec;
            std::filesystem::remove_all(g_temp, ec);
            g_temp.clear();
        }
        g_current = nullptr;
        double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
        std::cout << c.name << " ... " << outcome << " [" << static_cast<long>(ms) << " ms]" << std::endl;
    }
    std::cout << passed << " passed, " << failed << " failed, " << skipped << " skipped" << std::endl;
    if (failed > 0) return 1;
    if (passed == 0 && skipped > 0) return 77;
    return 0;
}
