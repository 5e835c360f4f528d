#pragma once
// Calibration data for the GLQ pipeline: text file(s) -> token ids (one
// tokenizer pass over the joined text) -> `nsamples` windows of `seqlen`
// tokens drawn with a seeded generator.
//
// Choices (where the reference differs, DESIGN.md asks for this):
//  * Text: the Brown corpus by default (resources/calibration/brown.txt.gz),
//    never the evaluation text. The reference joins WikiText-2 *train* rows;
//    we have no network and keep WikiText-2 test for perplexity only.
//  * Files ending in .gz are read through zlib; anything else as plain UTF-8.
//    Several files are joined with "\n\n" (the reference's row separator).
//  * Tokenized once with add_special_tokens = false, as one sequence; no BOS
//    is inserted into windows (the reference adds none per sample either).
//  * Windows: the token stream is cut into floor(T / seqlen) non-overlapping
//    slots and `nsamples` of them are picked by a seeded Fisher–Yates shuffle
//    (SplitMix64, so the choice is identical on every platform and compiler).
//    When the text has fewer slots than samples, the remaining windows start
//    at seeded random offsets (overlapping) and `overlapping` says so.
//    The reference instead takes the first nsamples·seqlen tokens in order;
//    `contiguous` does the same (for side-by-side checks with it: then both
//    tools see exactly the same tokens).

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <torch/types.h>

#include "core/io/tokenizer.h"

namespace glq::quant {

struct CalibrationOptions {
    std::vector<std::filesystem::path> files;  // empty: default_calibration_file()
    int64_t nsamples = 128;
    int64_t seqlen = 512;
    uint64_t seed = 0;
    // The reference's protocol: windows i = tokens [i·seqlen, (i+1)·seqlen)
    // from the start of the text (the seed is unused). Needs nsamples·seqlen
    // tokens.
    bool contiguous = false;
};

struct CalibrationData {
    torch::Tensor ids;                  // int64 [nsamples, seqlen], CPU
    std::vector<int64_t> starts;        // token offset of each window in the stream
    int64_t total_tokens = 0;           // tokens in the whole tokenized text
    uint64_t text_hash = 0;             // FNV-1a 64 of the joined text (cache keys)
    bool overlapping = false;           // some windows overlap (short text)
    std::string description;            // "brown.txt.gz: 1.4M tokens, 128 x 512 (seed 0)"
};

// The bundled Brown corpus: $GLQ_CALIBRATION_DIR/brown.txt.gz, else next to
// the executable (../share/glq-workbench/calibration, ../resources/calibration,
// ../../resources/calibration). Throws glq::Error when none exists.
std::filesystem::path default_calibration_file();

// The text of one calibration file (.gz decompressed). Throws glq::Error
// naming the file when it is missing, unreadable, corrupt or empty.
std::string read_calibration_text(const std::filesystem::path& path);

// Draws the windows. Throws glq::Error naming the file(s) and the numbers
// when the text has fewer than `seqlen` tokens, and naming the setting for
// nsamples < 1 or seqlen < 2.
CalibrationData load_calibration(const CalibrationOptions& options, const io::Tokenizer& tokenizer);

// The window choice alone (exposed for tests): start offsets of `nsamples`
// windows of `seqlen` in a stream of `total_tokens` (>= seqlen).
std::vector<int64_t> draw_window_starts(int64_t total_tokens, int64_t nsamples, int64_t seqlen, uint64_t seed,
                                        bool* overlapping = nullptr);

uint64_t fnv1a64(std::string_view bytes, uint64_t hash = 14695981039346656037ull);

} // namespace glq::quant
