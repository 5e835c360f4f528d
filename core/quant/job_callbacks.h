#pragma once
// How the quantization job's files (quantization_job.cpp, layer_step.cpp)
// talk through QuantizationCallbacks: progress reports, log lines, the
// cancel check and per-window progress. Internal to core/quant.

#include <cstdint>
#include <string>

#include "core/quant/hessian.h"
#include "core/quant/quantization_job.h"

namespace glq::quant::detail {

inline void report(const QuantizationCallbacks& cb, const std::string& stage, const std::string& item, int64_t done,
                   int64_t total, const std::string& unit) {
    if (cb.progress) cb.progress(Progress{stage, item, done, total, unit});
}

inline void note(const QuantizationCallbacks& cb, const std::string& line) {
    if (cb.log) cb.log(line);
}

inline void check_cancel(const QuantizationCallbacks& cb) {
    if (cb.cancel) cb.cancel->check();
}

// Progress through a layer's calibration windows ("<what>, window w/n"),
// reported at the stage's count as it stands (`done` is read at each window).
inline WindowDoneFn window_progress(const QuantizationCallbacks& cb, const std::string& stage, const std::string& what,
                                    const int64_t& done, int64_t total, const std::string& unit) {
    return [&cb, &done, stage, what, total, unit](int64_t w, int64_t n) {
        report(cb, stage, what + ", window " + std::to_string(w) + "/" + std::to_string(n), done, total, unit);
    };
}

} // namespace glq::quant::detail
