#pragma once
// How many threads LibTorch computes with, chosen once, early in main() of
// every program (glqw, glq-workbench, the test mains), before any tensor work.
//
// LibTorch's default is one OpenMP thread per core it counts, and an OpenMP
// team that spins in its barriers while another process holds one of those
// cores loses most of its time (a loaded 2-core machine turned a 4-minute test
// into one that passed a 15-minute limit). So: intra-op threads = the cores
// this process may run on (its CPU affinity, which a container or `taskset`
// narrows), never more; inter-op threads = 1 (nothing here runs two ops at
// once, and an idle pool is one more set of threads to schedule). The
// environment variable GLQ_NUM_THREADS (1..cores) asks for fewer, e.g. when
// CTest runs tests side by side. No LibTorch header here (the GUI includes it).
//
// Spinning itself is OpenMP's choice, read when libgomp loads, before main:
// the tests run with OMP_WAIT_POLICY=PASSIVE (tests/CMakeLists.txt), and a
// user of a shared machine can export it too.

namespace glq::session {

struct ComputeThreads {
    int cores = 1;      // the CPUs this process may run on
    int intra_op = 1;   // at::get_num_threads() afterwards
    int inter_op = 1;   // at::get_num_interop_threads() afterwards
};

// Sets the counts above (idempotent: a second call only reports them). Never
// throws; a GLQ_NUM_THREADS that is not an integer in 1..cores is ignored.
ComputeThreads configure_compute_threads();

// The rule alone, for tests: `cores`, or `request` (GLQ_NUM_THREADS's value,
// may be null) when it is an integer in 1..cores.
int compute_threads_for(int cores, const char* request);

} // namespace glq::session
