#pragma once
// A terminal progress bar for glqw: draws nothing for work that ends within a
// second, redraws in place on a terminal, and prints a line every few seconds
// when stderr is a log file. Also turns Ctrl-C into a cancel request.

#include <chrono>
#include <string>

#include "core/common/progress.h"

namespace glq::cli {

class ProgressBar {
public:
    ProgressBar();
    ~ProgressBar();
    // The callback to hand to long-running core functions.
    ProgressFn callback();
    void update(const Progress& p);
    // Clears the bar line (call before printing results).
    void finish();

private:
    using Clock = std::chrono::steady_clock;
    Clock::time_point start_, stage_start_, last_draw_;
    std::string stage_;
    bool tty_ = false;
    bool drawn_ = false;
};

// A cancel token that fires on SIGINT (Ctrl-C) while it is alive.
class InterruptCancel {
public:
    InterruptCancel();
    ~InterruptCancel();
    const CancelToken& token() const { return token_; }

private:
    CancelToken token_;
};

std::string format_duration(double seconds);
std::string format_bytes(double bytes);

} // namespace glq::cli
