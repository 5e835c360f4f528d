// glqw codebook / glqw rht: inspection commands for the quantization math, used
// by the interop tests (tests/python) to compare our codebook table, nearest
// search and Hadamard transform with the reference package, and handy for
// checking an installation by hand.
//
//   glqw codebook --dump cb.f32              65536 x 8 float32, little-endian, row-major
//   glqw codebook --nearest x.f32 --out i.i64 [--size 256]
//   glqw rht --rows M --cols N --input w.f32 --output wt.f32 [--signs s.f32]

#include <bit>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <string>

#include <torch/torch.h>

#include "app/cli/command.h"
#include "core/common/atomic_file.h"
#include "core/common/error.h"
#include "core/codebook/e8_shell/e8_codebook.h"
#include "core/quant/rht.h"

namespace {

static_assert(std::endian::native == std::endian::little, "raw tensor files are little-endian");

std::string tensor_bytes(const torch::Tensor& t) {
    const torch::Tensor c = t.contiguous().cpu();
    return std::string(static_cast<const char*>(c.data_ptr()), static_cast<size_t>(c.nbytes()));
}

// A raw float32 file holding exactly `rows` x `cols` values (cols = 8 for vectors).
torch::Tensor read_f32(const std::string& path, int64_t cols, int64_t rows = -1) {
    const std::string bytes = glq::read_file(path);
    const int64_t row_bytes = cols * 4;
    if (bytes.size() % static_cast<size_t>(row_bytes) != 0)
        throw glq::Error(path, "size " + std::to_string(bytes.size()) + " bytes is not a whole number of rows of " +
                                   std::to_string(cols) + " float32 values");
    const int64_t n = static_cast<int64_t>(bytes.size()) / row_bytes;
    if (rows >= 0 && n != rows)
        throw glq::Error(path, "holds " + std::to_string(n) + " rows, expected " + std::to_string(rows));
    torch::Tensor t = torch::empty({n, cols}, torch::kFloat32);
    std::memcpy(t.data_ptr(), bytes.data(), bytes.size());
    return t;
}

int run_codebook(int argc, char** argv) {
    glq::cli::ArgParser args("codebook", "Dump the compiled-in E8 codebook or look up nearest codewords.");
    args.option("dump", "FILE", "write the 65536 x 8 table as raw little-endian float32")
        .option("nearest", "FILE", "raw float32 vectors (N x 8) to quantize")
        .option("out", "FILE", "with --nearest: where to write the int64 indices")
        .option("size", "N", "codebook rows searched with --nearest (65536 or 256)", "65536")
        .option("device", "DEV", "cpu or cuda", "cpu");
    if (!args.parse(argc, argv, std::cout)) return 0;
    if (!args.has("dump") && !args.has("nearest")) throw glq::cli::UsageError("give --dump or --nearest");
    if (args.has("dump")) {
        glq::write_file_atomic(args.get("dump"), tensor_bytes(glq::codebook::e8_codebook()));
        std::cout << "wrote " << glq::codebook::kE8CodebookSize << " x 8 float32 to " << args.get("dump") << "\n";
    }
    if (args.has("nearest")) {
        if (!args.has("out")) throw glq::cli::UsageError("--nearest needs --out");
        const torch::Tensor x = read_f32(args.get("nearest"), 8).to(torch::Device(args.get("device")));
        const torch::Tensor idx = glq::codebook::e8_nearest(x, args.get_int("size"));
        glq::write_file_atomic(args.get("out"), tensor_bytes(idx));
        std::cout << "wrote " << idx.size(0) << " int64 indices to " << args.get("out") << "\n";
    }
    return 0;
}

int run_rht(int argc, char** argv) {
    glq::cli::ArgParser args("rht", "Apply the randomized Hadamard transform with the reference's seed-42 signs.");
    args.option("rows", "M", "rows of the weight (out_features)")
        .option("cols", "N", "columns of the weight (in_features)")
        .option("input", "FILE", "raw float32 weight, M x N row-major")
        .option("output", "FILE", "where to write W~ = BD_M diag(SU) W diag(SV) BD_N (float32)")
        .option("signs", "FILE", "optionally write SU then SV (float32)")
        .option("device", "DEV", "cpu or cuda", "cpu");
    if (!args.parse(argc, argv, std::cout)) return 0;
    for (const char* required : {"rows", "cols", "input", "output"})
        if (!args.has(required)) throw glq::cli::UsageError(std::string("--") + required + " is required");
    const int64_t m = args.get_int("rows"), n = args.get_int("cols");
    if (m < 1 || n < 1) throw glq::cli::UsageError("--rows and --cols must be positive");
    const torch::Tensor w = read_f32(args.get("input"), n, m).to(torch::Device(args.get("device")));
    const glq::quant::RhtSigns s = glq::quant::reference_signs(m, n);
    glq::write_file_atomic(args.get("output"), tensor_bytes(glq::quant::rht_weight(w, s.su, s.sv)));
    if (args.has("signs")) glq::write_file_atomic(args.get("signs"), tensor_bytes(torch::cat({s.su, s.sv})));
    std::cout << "wrote " << m << " x " << n << " float32 to " << args.get("output") << "\n";
    return 0;
}

} // namespace

GLQW_COMMAND("codebook", "Dump the E8 codebook or quantize vectors to it (for checks)", run_codebook);
GLQW_COMMAND("rht", "Apply the reference RHT to a raw weight (for checks)", run_rht);
