// LibTorch's thread counts, chosen once (see compute_threads.h).

#include "core/session/compute_threads.h"

#include <sched.h>

#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>

#include <ATen/Parallel.h>

namespace glq::session {
namespace {

int usable_cores() {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        const int n = CPU_COUNT(&set);
        if (n > 0) return n;
    }
    const unsigned hw = std::thread::hardware_concurrency();
    return hw > 0 ? static_cast<int>(hw) : 1;
}

} // namespace

int compute_threads_for(int cores, const char* request) {
    if (!request || !*request) return cores;
    char* end = nullptr;
    const long n = std::strtol(request, &end, 10);
    return (*end == '\0' && n >= 1 && n <= cores) ? static_cast<int>(n) : cores;
}

ComputeThreads configure_compute_threads() {
    static std::once_flag once;
    static ComputeThreads chosen;
    std::call_once(once, [] {
        chosen.cores = usable_cores();
        const int threads = compute_threads_for(chosen.cores, std::getenv("GLQ_NUM_THREADS"));
        try {
            // The inter-op pool can be sized only before its first use.
            at::set_num_interop_threads(1);
        } catch (const std::exception&) {
        }
        at::set_num_threads(threads);
        chosen.intra_op = at::get_num_threads();
        chosen.inter_op = at::get_num_interop_threads();
    });
    return chosen;
}

} // namespace glq::session
