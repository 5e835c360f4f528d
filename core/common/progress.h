#pragma once
// Long work (import, calibration, quantization, generation) reports progress
// through a plain callback and polls a cancel token. Neither knows about Qt:
// ui/ adapts them to signals on a worker thread, the CLI to a progress bar.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "core/common/error.h"

namespace glq {

struct Progress {
    std::string stage;    // e.g. "import", "calibrate", "quantize"
    std::string item;     // what is being worked on now, e.g. a tensor or layer name
    int64_t done = 0;     // units finished in this stage
    int64_t total = 0;    // units in this stage (0 = unknown)
    std::string unit;     // "tensors", "tokens", "layers", "bytes"...
};

using ProgressFn = std::function<void(const Progress&)>;

// Shared between the thread that asks for a cancel and the worker that polls it.
class CancelToken {
public:
    void cancel() noexcept { flag_->store(true, std::memory_order_relaxed); }
    bool cancelled() const noexcept { return flag_->load(std::memory_order_relaxed); }
    // Throws glq::Cancelled when cancelled; call between units of work.
    void check() const {
        if (cancelled()) throw Cancelled();
    }

private:
    std::shared_ptr<std::atomic<bool>> flag_ = std::make_shared<std::atomic<bool>>(false);
};

} // namespace glq
