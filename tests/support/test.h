#pragma once
// A small, dependency-free test harness. Core tests must build and run on a
// GPU server that has LibTorch but no Qt, so they cannot use Qt Test; ui/
// tests use Qt Test. Each test file is one executable; CTest runs them.
//
//   GLQ_TEST(parses_header) { CHECK_EQ(parse("x").size(), 1u); }
//
// A failed CHECK ends that test case and the run goes on with the next. The
// executable prints "N passed, N failed, N skipped" and exits 1 on any
// failure, or 77 (CTest's SKIP_RETURN_CODE) when every case skipped.

#include <cmath>
#include <filesystem>
#include <functional>
#include <sstream>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace glq::test {

struct Failure {
    std::string message;
};
struct Skipped {
    std::string reason;
};

using TestFn = void (*)();
struct Registrar {
    Registrar(const char* name, TestFn fn, const char* file, int line);
};

[[noreturn]] void fail(const std::string& message, const char* file, int line);
[[noreturn]] void skip(const std::string& reason);

// ../shared/data, tests/data and a fresh empty folder for the current test
// (removed after it). Tests that need data skip when it is missing only if
// the variable says so; by default a missing data folder is a failure.
std::filesystem::path shared_data();
std::filesystem::path test_data();
std::filesystem::path temp_dir();
// Environment variable or empty string.
std::string env(const char* name);

template <typename T>
std::string show(const T& v) {
    if constexpr (requires(std::ostream& os) { os << v; }) {
        std::ostringstream ss;
        ss.precision(10);
        ss << v;
        return ss.str();
    } else {
        return "<value>";
    }
}

bool contains(std::string_view haystack, std::string_view needle);

} // namespace glq::test

#define GLQ_TEST_CAT2(a, b) a##b
#define GLQ_TEST_CAT(a, b) GLQ_TEST_CAT2(a, b)

#define GLQ_TEST(name)                                                                        \
    static void name();                                                                       \
    static ::glq::test::Registrar GLQ_TEST_CAT(glq_test_reg_, name)(#name, &name, __FILE__, __LINE__); \
    static void name()

// c10's logging (pulled in by any LibTorch header) defines CHECK and
// CHECK_EQ for its own aborting checks; tests mean ours, whatever the
// include order.
#undef CHECK
#undef CHECK_EQ
#define CHECK(cond)                                                                           \
    do {                                                                                      \
        if (!(cond)) ::glq::test::fail("CHECK(" #cond ") failed", __FILE__, __LINE__);      \
    } while (0)

#define CHECK_MSG(cond, msg)                                                                  \
    do {                                                                                      \
        if (!(cond)) {                                                                        \
            std::ostringstream glq_ss_;                                                       \
            glq_ss_ << "CHECK(" #cond ") failed: " << msg;                                    \
            ::glq::test::fail(glq_ss_.str(), __FILE__, __LINE__);                            \
        }                                                                                     \
    } while (0)

#define CHECK_EQ(a, b)                                                                        \
    do {                                                                                      \
        const auto& glq_a_ = (a);                                                             \
        const auto& glq_b_ = (b);                                                             \
        if (!(glq_a_ == glq_b_))                                                              \
            ::glq::test::fail("CHECK_EQ(" #a ", " #b ") failed: " + ::glq::test::show(glq_a_) + \
                                  " != " + ::glq::test::show(glq_b_),                         \
                              __FILE__, __LINE__);                                            \
    } while (0)

#define CHECK_NEAR(a, b, tol)                                                                 \
    do {                                                                                      \
        const double glq_a_ = static_cast<double>(a);                                         \
        const double glq_b_ = static_cast<double>(b);                                         \
        if (!(std::fabs(glq_a_ - glq_b_) <= (tol)))                                           \
            ::glq::test::fail("CHECK_NEAR(" #a ", " #b ") failed: " + ::glq::test::show(glq_a_) + \
                                  " vs " + ::glq::test::show(glq_b_) + " (tol " #tol ")",     \
                              __FILE__, __LINE__);                                            \
    } while (0)

// Expects `expr` to throw a std::exception whose what() contains `substr`.
#define CHECK_THROWS_WITH(expr, substr)                                                       \
    do {                                                                                      \
        bool glq_threw_ = false;                                                              \
        try {                                                                                 \
            (void)(expr);                                                                     \
        } catch (const std::exception& glq_e_) {                                              \
            glq_threw_ = true;                                                                \
            if (!::glq::test::contains(glq_e_.what(), substr))                               \
                ::glq::test::fail(std::string("CHECK_THROWS_WITH(" #expr "): message \"") +   \
                                      glq_e_.what() + "\" lacks \"" + (substr) + "\"",        \
                                  __FILE__, __LINE__);                                        \
        }                                                                                     \
        if (!glq_threw_)                                                                      \
            ::glq::test::fail("CHECK_THROWS_WITH(" #expr "): nothing was thrown", __FILE__, __LINE__); \
    } while (0)

#define SKIP(reason) ::glq::test::skip(reason)
