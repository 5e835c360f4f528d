#include "core/quant/calibration.h"

#include <zlib.h>

#include <cstdlib>
#include <fstream>
#include <system_error>

#include <torch/torch.h>

#include "core/common/atomic_file.h"
#include "core/common/error.h"

namespace glq::quant {
namespace fs = std::filesystem;

namespace {

// SplitMix64: tiny, well-mixed and fully specified, so window choices do not
// depend on the standard library's distributions.
struct SplitMix64 {
    uint64_t state;
    uint64_t next() {
        uint64_t z = (state += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        return z ^ (z >> 31);
    }
    // Uniform in [0, bound) by rejection (no modulo bias).
    uint64_t below(uint64_t bound) {
        const uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
        uint64_t x;
        do x = next(); while (x >= limit);
        return x % bound;
    }
};

bool ends_with(const std::string& s, const std::string& suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string read_gzip(const fs::path& path) {
    gzFile file = gzopen(path.string().c_str(), "rb");
    if (!file) throw Error(path.string(), "cannot open the compressed calibration text");
    std::string text;
    std::vector<char> buffer(1 << 20);
    for (;;) {
        const int n = gzread(file, buffer.data(), static_cast<unsigned>(buffer.size()));
        if (n < 0) {
            int code = 0;
            const std::string message = gzerror(file, &code);
            gzclose(file);
            throw Error(path.string(), "corrupt gzip data (" + message + ")");
        }
        if (n == 0) break;
        text.append(buffer.data(), static_cast<size_t>(n));
    }
    const int rc = gzclose(file);
    if (rc != Z_OK) throw Error(path.string(), "corrupt or truncated gzip data");
    return text;
}

fs::path executable_dir() {
    std::error_code ec;
    const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
    return ec ? fs::path() : exe.parent_path();
}

} // namespace

uint64_t fnv1a64(std::string_view bytes, uint64_t hash) {
    for (unsigned char c : bytes) {
        hash ^= c;
        hash *= 1099511628211ull;
    }
    return hash;
}

fs::path default_calibration_file() {
    const char* name = "brown.txt.gz";
    std::vector<fs::path> candidates;
    if (const char* env = std::getenv("GLQ_CALIBRATION_DIR"); env && *env) candidates.push_back(fs::path(env) / name);
    const fs::path exe = executable_dir();
    if (!exe.empty()) {
        candidates.push_back(exe / "../share/glq-workbench/calibration" / name);
        candidates.push_back(exe / "../resources/calibration" / name);
        candidates.push_back(exe / "../../resources/calibration" / name);
    }
    for (const fs::path& c : candidates) {
        std::error_code ec;
        if (fs::is_regular_file(c, ec)) return fs::weakly_canonical(c, ec);
    }
    std::string tried;
    for (const fs::path& c : candidates) tried += (tried.empty() ? "" : ", ") + c.string();
    throw Error("calibration text", "the bundled Brown corpus (" + std::string(name) +
                                        ") was not found (looked in: " + tried +
                                        "); pass --calib FILE or set GLQ_CALIBRATION_DIR");
}

std::string read_calibration_text(const fs::path& path) {
    std::error_code ec;
    if (!fs::is_regular_file(path, ec)) throw Error(path.string(), "calibration text file not found");
    std::string text = ends_with(path.string(), ".gz") ? read_gzip(path) : read_file(path);
    if (text.empty()) throw Error(path.string(), "the calibration text is empty");
    return text;
}

std::vector<int64_t> draw_window_starts(int64_t total_tokens, int64_t nsamples, int64_t seqlen, uint64_t seed,
                                        bool* overlapping) {
    if (seqlen < 1 || nsamples < 1 || total_tokens < seqlen)
        throw Error("calibration windows", "need at least one window of " + std::to_string(seqlen) +
                                               " tokens in " + std::to_string(total_tokens));
    SplitMix64 rng{seed};
    const int64_t slots = total_tokens / seqlen;
    std::vector<int64_t> order(static_cast<size_t>(slots));
    for (int64_t i = 0; i < slots; ++i) order[static_cast<size_t>(i)] = i;
    // Partial Fisher–Yates: the first min(nsamples, slots) entries are a uniform draw.
    const int64_t picked = std::min(nsamples, slots);
    for (int64_t i = 0; i < picked; ++i) {
        const int64_t j = i + static_cast<int64_t>(rng.below(static_cast<uint64_t>(slots - i)));
        std::swap(order[static_cast<size_t>(i)], order[static_cast<size_t>(j)]);
    }
    std::vector<int64_t> starts;
    starts.reserve(static_cast<size_t>(nsamples));
    for (int64_t i = 0; i < picked; ++i) starts.push_back(order[static_cast<size_t>(i)] * seqlen);
    const uint64_t offsets = static_cast<uint64_t>(total_tokens - seqlen + 1);
    for (int64_t i = picked; i < nsamples; ++i) starts.push_back(static_cast<int64_t>(rng.below(offsets)));
    if (overlapping) *overlapping = picked < nsamples;
    return starts;
}

CalibrationData load_calibration(const CalibrationOptions& options, const io::Tokenizer& tokenizer) {
    if (options.nsamples < 1)
        throw Error("nsamples", "must be at least 1 (got " + std::to_string(options.nsamples) + ")");
    if (options.seqlen < 2)
        throw Error("seqlen", "must be at least 2 tokens (got " + std::to_string(options.seqlen) + ")");
    std::vector<fs::path> files = options.files;
    if (files.empty()) files.push_back(default_calibration_file());

    std::string text;
    std::string names;
    for (const fs::path& f : files) {
        if (!text.empty()) text += "\n\n";
        text += read_calibration_text(f);
        names += (names.empty() ? "" : ", ") + f.string();
    }
    const std::vector<int32_t> tokens = tokenizer.encode(text, /*add_special_tokens=*/false);
    const int64_t total = static_cast<int64_t>(tokens.size());
    if (total < options.seqlen)
        throw Error(names, "calibration text too short: " + std::to_string(total) +
                               " tokens, but one window needs seqlen = " + std::to_string(options.seqlen) +
                               " tokens (use a longer text or a smaller --seqlen)");

    CalibrationData data;
    data.total_tokens = total;
    data.text_hash = fnv1a64(text);
    if (options.contiguous) {
        if (total < options.nsamples * options.seqlen)
            throw Error(names, "calibration text too short for contiguous windows: " + std::to_string(total) +
                                   " tokens, but nsamples x seqlen = " + std::to_string(options.nsamples) + " x " +
                                   std::to_string(options.seqlen) + " needs " +
                                   std::to_string(options.nsamples * options.seqlen) +
                                   " (use a longer text, fewer or shorter windows, or seeded windows)");
        for (int64_t s = 0; s < options.nsamples; ++s) data.starts.push_back(s * options.seqlen);
    } else {
        data.starts = draw_window_starts(total, options.nsamples, options.seqlen, options.seed, &data.overlapping);
    }
    data.ids = torch::empty({options.nsamples, options.seqlen}, torch::kInt64);
    auto acc = data.ids.accessor<int64_t, 2>();
    for (int64_t s = 0; s < options.nsamples; ++s)
        for (int64_t t = 0; t < options.seqlen; ++t)
            acc[s][t] = tokens[static_cast<size_t>(data.starts[static_cast<size_t>(s)] + t)];
    data.description = names + ": " + std::to_string(total) + " tokens, " + std::to_string(options.nsamples) +
                       " x " + std::to_string(options.seqlen) +
                       (options.contiguous ? " (the first tokens, in order)"
                                           : " (seed " + std::to_string(options.seed) + ")") +
                       (data.overlapping ? ", windows overlap (short text)" : "");
    return data;
}

} // namespace glq::quant
