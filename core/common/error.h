#pragma once
// One error type for everything the user can get wrong: it always names the
// file (or object) and the problem, so the CLI and the GUI can show one clear
// line instead of a stack of exceptions.

#include <stdexcept>
#include <string>

namespace glq {

class Error : public std::runtime_error {
public:
    // `where` is a file path, a tensor name or a setting; `problem` says what is wrong.
    Error(std::string where, std::string problem)
        : std::runtime_error(where.empty() ? problem : where + ": " + problem),
          where_(std::move(where)), problem_(std::move(problem)) {}

    const std::string& where() const noexcept { return where_; }
    const std::string& problem() const noexcept { return problem_; }

private:
    std::string where_;
    std::string problem_;
};

// Thrown by long jobs when their CancelToken fires; not an error for the user.
class Cancelled : public std::runtime_error {
public:
    Cancelled() : std::runtime_error("cancelled") {}
};

} // namespace glq
