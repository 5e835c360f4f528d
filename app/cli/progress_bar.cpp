#include "app/cli/progress_bar.h"

#include <csignal>
#include <cstdio>
#include <mutex>

#include <unistd.h>

#include "core/io/model_dir.h"

namespace glq::cli {

std::string format_duration(double s) {
    char buf[32];
    if (s < 0) s = 0;
    int t = static_cast<int>(s + 0.5);
    if (t >= 3600) std::snprintf(buf, sizeof buf, "%dh%02dm", t / 3600, (t / 60) % 60);
    else if (t >= 60) std::snprintf(buf, sizeof buf, "%dm%02ds", t / 60, t % 60);
    else std::snprintf(buf, sizeof buf, "%ds", t);
    return buf;
}

std::string format_bytes(double b) {
    const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int u = 0;
    while (b >= 1024 && u < 4) {
        b /= 1024;
        ++u;
    }
    char buf[32];
    std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", b, units[u]);
    return buf;
}

ProgressBar::ProgressBar()
    : start_(Clock::now()), stage_start_(start_), last_draw_(start_), tty_(::isatty(STDERR_FILENO)) {}

ProgressBar::~ProgressBar() { finish(); }

ProgressFn ProgressBar::callback() {
    return [this](const Progress& p) { update(p); };
}

void ProgressBar::update(const Progress& p) {
    auto now = Clock::now();
    if (p.stage != stage_) {
        if (drawn_ && tty_) std::fputc('\n', stderr);
        drawn_ = false;
        stage_ = p.stage;
        stage_start_ = now;
    }
    double since_start = std::chrono::duration<double>(now - stage_start_).count();
    double since_draw = std::chrono::duration<double>(now - last_draw_).count();
    bool complete = p.total > 0 && p.done >= p.total;
    // Nothing for work under a second; then ~10 redraws/s on a tty, one line per 5 s in a log.
    if (since_start < 1.0 && !(complete && drawn_)) return;
    if (!complete && since_draw < (tty_ ? 0.1 : 5.0)) return;
    last_draw_ = now;

    char line[256];
    if (p.total > 0) {
        double frac = static_cast<double>(p.done) / static_cast<double>(p.total);
        int width = 28, filled = static_cast<int>(frac * width);
        std::string bar(filled, '#');
        bar.resize(width, '.');
        double eta = frac > 0 ? since_start * (1 - frac) / frac : 0;
        // "52.4M/134.5M weights", "106.8 MiB/1.2 GiB": nine-digit counts are not read at a glance.
        const bool bytes = p.unit == "bytes";
        const std::string counts = bytes ? format_bytes(static_cast<double>(p.done)) + "/" +
                                               format_bytes(static_cast<double>(p.total))
                                         : io::human_count(p.done) + "/" + io::human_count(p.total) + " " + p.unit;
        std::snprintf(line, sizeof line, "%-10s [%s] %3d%% %s  %s elapsed, ETA %s", p.stage.c_str(), bar.c_str(),
                      static_cast<int>(frac * 100), counts.c_str(), format_duration(since_start).c_str(),
                      format_duration(eta).c_str());
    } else {
        std::snprintf(line, sizeof line, "%-10s %lld %s  %s elapsed", p.stage.c_str(), static_cast<long long>(p.done),
                      p.unit.c_str(), format_duration(since_start).c_str());
    }
    std::string item = p.item.size() > 40 ? "…" + p.item.substr(p.item.size() - 39) : p.item;
    if (tty_) std::fprintf(stderr, "\r\033[K%s  %s", line, item.c_str());
    else std::fprintf(stderr, "%s  %s\n", line, item.c_str());
    std::fflush(stderr);
    drawn_ = true;
}

void ProgressBar::finish() {
    if (drawn_ && tty_) {
        std::fputc('\n', stderr);
        std::fflush(stderr);
    }
    drawn_ = false;
}

namespace {
std::mutex g_interrupt_mutex;
CancelToken* g_interrupt_token = nullptr;
void (*g_previous_handler)(int) = SIG_DFL;

extern "C" void on_sigint(int) {
    // Only an atomic store: safe in a signal handler. A second Ctrl-C kills.
    if (g_interrupt_token) g_interrupt_token->cancel();
    std::signal(SIGINT, SIG_DFL);
}
} // namespace

InterruptCancel::InterruptCancel() {
    std::lock_guard lock(g_interrupt_mutex);
    g_interrupt_token = &token_;
    g_previous_handler = std::signal(SIGINT, on_sigint);
}

InterruptCancel::~InterruptCancel() {
    std::lock_guard lock(g_interrupt_mutex);
    std::signal(SIGINT, g_previous_handler);
    g_interrupt_token = nullptr;
}

} // namespace glq::cli
