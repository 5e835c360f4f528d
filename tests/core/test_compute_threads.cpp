// LibTorch's thread counts (core/session/compute_threads.h): set by the test
// main as by glqw and the GUI, never more intra-op threads than usable cores.

#include <sched.h>

#include <ATen/Parallel.h>

#include "core/session/compute_threads.h"
#include "tests/support/test.h"

using glq::session::compute_threads_for;
using glq::session::configure_compute_threads;

GLQ_TEST(no_more_compute_threads_than_cores) {
    const glq::session::ComputeThreads t = configure_compute_threads();  // the test main called it already
    cpu_set_t set;
    CPU_ZERO(&set);
    CHECK_EQ(sched_getaffinity(0, sizeof set, &set), 0);
    CHECK_EQ(t.cores, CPU_COUNT(&set));
    CHECK(t.intra_op >= 1 && t.intra_op <= t.cores);
    CHECK_EQ(t.inter_op, 1);
    CHECK_EQ(at::get_num_threads(), t.intra_op);
    CHECK_EQ(static_cast<int>(at::get_num_interop_threads()), 1);
    // A second call changes nothing.
    const glq::session::ComputeThreads again = configure_compute_threads();
    CHECK_EQ(again.intra_op, t.intra_op);
}

GLQ_TEST(glq_num_threads_may_ask_for_fewer) {
    CHECK_EQ(compute_threads_for(8, nullptr), 8);
    CHECK_EQ(compute_threads_for(8, ""), 8);
    CHECK_EQ(compute_threads_for(8, "3"), 3);
    CHECK_EQ(compute_threads_for(8, "8"), 8);
    CHECK_EQ(compute_threads_for(8, "9"), 8);   // never more than the cores
    CHECK_EQ(compute_threads_for(8, "0"), 8);
    CHECK_EQ(compute_threads_for(8, "-2"), 8);
    CHECK_EQ(compute_threads_for(8, "2x"), 8);
    CHECK_EQ(compute_threads_for(1, "4"), 1);
}
