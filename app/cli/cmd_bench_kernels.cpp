// glqw bench-kernels: one linear layer at a time on CUDA, the compressed GLQ
// e8_shell op (both Hadamard transforms, casts and kernels: what the engine
// calls) against cuBLAS bf16 (F.linear, what a dense layer calls), same
// shapes, same run. Each timing replays a CUDA graph of calls over rotated
// weight copies of at least --rotate-mib in all, so L2 does not serve the
// weights; the ceiling is a read-only reduction over 2 GiB measured in the
// same run (kernels/read_bandwidth.h). Median of --repeats replays.

#include <algorithm>
#include <iomanip>
#include <iostream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "app/cli/command.h"
#include "core/common/atomic_file.h"
#include "core/common/error.h"
#include "core/format/compressed_linear.h"
#include "core/format/random_layer.h"

#ifdef GLQ_WITH_CUDA
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <cuda_runtime.h>

#include "kernels/e8_shell_linear.h"
#include "kernels/read_bandwidth.h"
#endif

namespace {

std::vector<int64_t> parse_list(const std::string& text, const char* what) {
    std::vector<int64_t> out;
    std::stringstream ss(text);
    std::string item;
    while (std::getline(ss, item, ','))
        try {
            out.push_back(std::stoll(item));
        } catch (const std::exception&) {
            throw glq::cli::UsageError(std::string(what) + ": '" + item + "' is not a number");
        }
    if (out.empty()) throw glq::cli::UsageError(std::string(what) + ": empty list");
    return out;
}

struct Shape {
    std::string name;
    int64_t m, n;
};

std::vector<Shape> shapes_of(const std::string& sets) {
    std::vector<Shape> s;
    std::stringstream ss(sets);
    std::string set;
    while (std::getline(ss, set, ',')) {
        if (set == "demo") s.insert(s.end(), {{"demo q/o", 576, 576}, {"demo k/v", 192, 576}, {"demo gate/up", 1536, 576},
                                              {"demo down", 576, 1536}});
        else if (set == "1b") s.insert(s.end(), {{"1B q/o", 2048, 2048}, {"1B k/v", 512, 2048}, {"1B gate/up", 8192, 2048},
                                                 {"1B down", 2048, 8192}});
        else if (set == "8b") s.insert(s.end(), {{"8B q/o", 4096, 4096}, {"8B k/v", 1024, 4096}, {"8B gate/up", 14336, 4096},
                                                 {"8B down", 4096, 14336}, {"8192²", 8192, 8192}});
        else throw glq::cli::UsageError("--shapes: unknown set '" + set + "' (demo, 1b, 8b)");
    }
    return s;
}

#ifdef GLQ_WITH_CUDA
// Median microseconds per call of `calls` (one per weight copy) replayed from a graph.
double time_calls(const std::vector<std::function<void()>>& calls, int repeats) {
    for (const auto& c : calls) c();  // eager: workspaces, cuBLAS handles
    torch::cuda::synchronize();
    c10::cuda::CUDAStream stream = c10::cuda::getStreamFromPool();
    at::cuda::CUDAGraph graph;
    {
        c10::cuda::CUDAStreamGuard guard(stream);
        for (const auto& c : calls) c();  // warm on the capture stream
        stream.synchronize();
        graph.capture_begin();
        for (const auto& c : calls) c();
        graph.capture_end();
    }
    graph.replay();
    torch::cuda::synchronize();
    cudaEvent_t a, b;
    cudaEventCreate(&a);
    cudaEventCreate(&b);
    std::vector<double> us;
    for (int r = 0; r < repeats; ++r) {
        cudaEventRecord(a, stream.stream());
        {
            c10::cuda::CUDAStreamGuard guard(stream);
            graph.replay();
        }
        cudaEventRecord(b, stream.stream());
        cudaEventSynchronize(b);
        float ms = 0;
        cudaEventElapsedTime(&ms, a, b);
        us.push_back(1000.0 * ms / static_cast<double>(calls.size()));
    }
    cudaEventDestroy(a);
    cudaEventDestroy(b);
    std::sort(us.begin(), us.end());
    return us[us.size() / 2];
}
#endif

int run_bench_kernels(int argc, char** argv) {
    glq::cli::ArgParser args("bench-kernels",
                             "One linear layer on CUDA: the compressed GLQ op against cuBLAS bf16, same shapes, same run.");
    args.option("shapes", "SETS", "comma-separated shape sets: demo, 1b, 8b", "demo,1b,8b")
        .option("bpw", "LIST", "comma-separated rates (2..8)", "2,3,4")
        .option("batch", "LIST", "comma-separated batch sizes", "1,8,32")
        .option("repeats", "N", "timed graph replays (the median is reported)", "7")
        .option("rotate-mib", "MIB", "weight copies per timing, in MiB of weights at least", "512")
        .option("routes-from", "B", "from this batch on, also time the route the op does not take (crossover)", "16")
        .flag("pdl-ab", "also time each op with programmatic dependent launch off")
        .flag("fused-ab", "also time each op as three kernels where it runs as one launch")
        .flag("rows-ab", "B <= 8: also time the other side of the rows op's choice (off where it runs, forced where it does not)")
        .flag("table-ab", "also time each op with the codebook table forced into shared memory and into L1/L2")
        .option("json", "FILE", "also write the results as JSON");
    if (!args.parse(argc, argv, std::cout)) return 0;
#ifndef GLQ_WITH_CUDA
    throw glq::Error("bench-kernels", "this build has no CUDA");
#else
    if (!torch::cuda::is_available()) throw glq::Error("bench-kernels", "no CUDA device");
    const std::vector<Shape> shapes = shapes_of(args.get("shapes"));
    const std::vector<int64_t> bpws = parse_list(args.get("bpw"), "--bpw");
    const std::vector<int64_t> batches = parse_list(args.get("batch"), "--batch");
    const int repeats = static_cast<int>(args.get_int("repeats"));
    const double rotate = static_cast<double>(args.get_int("rotate-mib")) * 1024.0 * 1024.0;
    const int64_t routes_from = args.get_int("routes-from");
    const bool pdl_ab = args.has("pdl-ab"), fused_ab = args.has("fused-ab"), rows_ab = args.has("rows-ab"),
               table_ab = args.has("table-ab");
    namespace kc = glq::kernels::cuda;
    const int64_t dense_min = kc::e8_shell_dense_min_batch();
    torch::NoGradGuard no_grad;
    const torch::Device dev(torch::kCUDA);

    const double read_bw = glq::kernels::cuda::measure_read_bandwidth(int64_t{2} << 30, 9);
    std::cout << std::fixed << std::setprecision(1) << "read bandwidth (read-only reduction over 2 GiB): "
              << read_bw / 1e9 << " GB/s\n";
    std::cout << "dense route from batch " << glq::kernels::cuda::e8_shell_dense_min_batch() << "\n\n";
    std::cout << std::left << std::setw(14) << "shape" << std::setw(7) << "path" << std::right << std::setw(12) << "m x n" << std::setw(5) << "bpw"
              << std::setw(5) << "B" << std::setw(11) << "glq µs" << std::setw(11) << "bf16 µs" << std::setw(9) << "speedup"
              << std::setw(10) << "glq GB/s" << std::setw(8) << "of BW" << std::setw(10) << "bf16 GB/s" << std::setw(11)
              << "matvec µs" << std::setw(12) << "other route" << std::setw(10) << "no PDL" << std::setw(10) << "3 kernels"
              << std::setw(10) << "rows A/B" << std::setw(10) << "smem tab" << std::setw(10) << "L2 tab" << "\n";
    nlohmann::json rows = nlohmann::json::array();
    for (const Shape& s : shapes) {
        const double dense_bytes = static_cast<double>(s.m * s.n * 2);
        const int dense_copies = static_cast<int>(std::clamp(std::ceil(rotate / dense_bytes), 2.0, 2048.0));
        std::vector<torch::Tensor> dense;
        for (int c = 0; c < dense_copies; ++c)
            dense.push_back(torch::randn({s.m, s.n}, torch::TensorOptions().device(dev).dtype(torch::kBFloat16)) * 0.02);
        for (int64_t bpw : bpws) {
            const auto workspace = std::make_shared<glq::format::ShellWorkspace>();
            const glq::format::ShellLayerArtifacts a = glq::format::random_shell_layer(s.m, s.n, static_cast<int>(bpw), 1);
            const auto first = std::make_shared<glq::format::CompressedShellLinear>(a, dev, workspace);
            const double glq_bytes = static_cast<double>(first->resident_bytes());
            const int copies = static_cast<int>(std::clamp(std::ceil(rotate / glq_bytes), 2.0, 2048.0));
            std::vector<std::shared_ptr<glq::format::CompressedShellLinear>> ops{first};
            for (int c = 1; c < copies; ++c)
                ops.push_back(std::make_shared<glq::format::CompressedShellLinear>(a, dev, workspace));
            torch::Tensor bench_ws = torch::zeros({kc::e8_shell_workspace_elems(s.m, first->num_stages(), 32)},
                                                  torch::TensorOptions().device(dev).dtype(torch::kInt64));
            std::vector<kc::E8ShellDeviceWeights> weights;
            for (const auto& op : ops) weights.push_back(op->cuda_weights());
            for (int64_t B : batches) {
                const torch::Tensor x = torch::randn({B, s.n}, torch::TensorOptions().device(dev).dtype(torch::kBFloat16));
                std::vector<std::function<void()>> ours, theirs, bare;
                for (const auto& op : ops) ours.push_back([&, op] { (void)op->forward(x); });
                for (const auto& w : dense) theirs.push_back([&, w] { (void)torch::nn::functional::linear(x, w); });
                const double t_ours = time_calls(ours, repeats);
                const std::string route = kc::e8_shell_last_route();  // what the default routing ran
                const double t_bf16 = time_calls(theirs, repeats);
                // The bare matvec on zero limbs (the sums stay zero, so the
                // workspace needs no cleaning), one launch of <= 32 tokens.
                double t_matvec = 0;
                if (B <= 32) {
                    const torch::Tensor limbs =
                        torch::zeros({B * kc::e8_shell_limb_elems(s.n)}, torch::TensorOptions().device(dev).dtype(torch::kInt32));
                    for (const auto& w : weights) bare.push_back([&, w, limbs] { kc::e8_shell_matvec_only(w, limbs, B, bench_ws); });
                    t_matvec = time_calls(bare, repeats);
                }
                // The route the op does not take at this batch: where the crossover is.
                double t_other = 0;
                if (B >= routes_from) {
                    kc::e8_shell_set_dense_min_batch(B >= dense_min ? B + 1 : 1);
                    t_other = time_calls(ours, repeats);
                    kc::e8_shell_set_dense_min_batch(-1);
                }
                double t_nopdl = 0;
                if (pdl_ab && B < dense_min) {
                    kc::e8_shell_set_pdl(0);
                    t_nopdl = time_calls(ours, repeats);
                    kc::e8_shell_set_pdl(-1);
                }
                double t_three = 0;
                if (fused_ab && B <= 32) {
                    kc::e8_shell_set_rows(0);
                    kc::e8_shell_set_fused(0);
                    t_three = time_calls(ours, repeats);
                    kc::e8_shell_set_fused(-1);
                    kc::e8_shell_set_rows(-1);
                }
                // The other side of the rows op's choice: off where it ran, forced where it did not.
                double t_norows = 0;
                if (rows_ab && B <= 8) {
                    kc::e8_shell_set_rows(route == "rows" ? 0 : 1);
                    t_norows = time_calls(ours, repeats);
                    kc::e8_shell_set_rows(-1);
                }
                double t_smem = 0, t_global = 0;
                if (table_ab && B < dense_min) {
                    kc::e8_shell_set_table_placement(kc::E8TablePlacement::Shared);
                    t_smem = time_calls(ours, repeats);
                    kc::e8_shell_set_table_placement(kc::E8TablePlacement::Global);
                    t_global = time_calls(ours, repeats);
                    kc::e8_shell_set_table_placement(kc::E8TablePlacement::Auto);
                }
                const double gbs = glq_bytes / (t_ours * 1e-6) / 1e9;
                const double dense_gbs = dense_bytes / (t_bf16 * 1e-6) / 1e9;
                std::cout << std::left << std::setw(14) << s.name << std::setw(7) << route << std::right << std::setw(12)
                          << (std::to_string(s.m) + "x" + std::to_string(s.n)) << std::setw(5) << bpw << std::setw(5) << B
                          << std::setprecision(2) << std::setw(11) << t_ours << std::setw(11) << t_bf16 << std::setw(8)
                          << t_bf16 / t_ours << "x" << std::setprecision(0) << std::setw(10) << gbs << std::setw(7)
                          << 100.0 * gbs * 1e9 / read_bw << "%" << std::setw(10) << dense_gbs << std::setprecision(2)
                          << std::setw(11) << t_matvec << std::setw(12) << t_other << std::setw(10) << t_nopdl << std::setw(10)
                          << t_three << std::setw(10) << t_norows << std::setw(10) << t_smem << std::setw(10) << t_global
                          << "\n";
                nlohmann::json row = {{"shape", s.name}, {"m", s.m}, {"n", s.n}, {"bpw", bpw}, {"batch", B},
                                      {"glq_us", t_ours}, {"bf16_us", t_bf16}, {"speedup", t_bf16 / t_ours},
                                      {"glq_weight_bytes", glq_bytes}, {"bf16_weight_bytes", dense_bytes},
                                      {"glq_copies", copies}, {"bf16_copies", dense_copies},
                                      {"route", route}};
                if (t_matvec > 0) row["matvec_us"] = t_matvec;
                if (t_other > 0) row["other_route_us"] = t_other;
                if (t_nopdl > 0) row["no_pdl_us"] = t_nopdl;
                if (t_three > 0) row["three_kernels_us"] = t_three;
                if (t_norows > 0) row["rows_other_us"] = t_norows;
                if (t_smem > 0) row["smem_table_us"] = t_smem;
                if (t_global > 0) row["global_table_us"] = t_global;
                rows.push_back(row);
            }
        }
    }
    if (args.has("json"))
        glq::write_file_atomic(args.get("json"),
                               nlohmann::json{{"read_bandwidth_bytes_per_s", read_bw},
                                              {"dense_min_batch", glq::kernels::cuda::e8_shell_dense_min_batch()},
                                              {"rows", rows}}
                                       .dump(2) +
                                   "\n");
    return 0;
#endif
}

} // namespace

GLQW_COMMAND("bench-kernels", "Speed of one compressed GLQ linear against cuBLAS bf16 (CUDA)", run_bench_kernels);
