// glqw info: describe an HF model folder (or one .safetensors file) from its
// config and safetensors headers only: architecture, dimensions, parameter
// count, dtype, size, a per-tensor table, and for a GLQ checkpoint its
// codebook and per-layer bits per weight. No weights are loaded, so it is
// instant even for large models (except with --checksums, which reads them).

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <iomanip>
#include <iostream>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "app/cli/command.h"
#include "core/common/error.h"
#include "core/io/model_dir.h"
#include "core/io/safetensors.h"

namespace fs = std::filesystem;
using nlohmann::ordered_json;

namespace {

using glq::io::SafetensorsFile;
using glq::io::TensorInfo;

struct Row {
    const TensorInfo* info;
    std::string file;  // the safetensors file it lives in (file name only)
    std::optional<uint64_t> checksum;
};

// "layers.10" after "layers.9": compare runs of digits by value.
bool natural_less(const std::string& a, const std::string& b) {
    std::size_t i = 0, j = 0;
    while (i < a.size() && j < b.size()) {
        if (std::isdigit(static_cast<unsigned char>(a[i])) && std::isdigit(static_cast<unsigned char>(b[j]))) {
            std::size_t ie = i, je = j;
            while (ie < a.size() && std::isdigit(static_cast<unsigned char>(a[ie]))) ++ie;
            while (je < b.size() && std::isdigit(static_cast<unsigned char>(b[je]))) ++je;
            // By value without converting: a run of 30 digits does not fit
            // any integer type (std::stoull would throw out_of_range).
            std::size_t ia = i, jb = j;
            while (ia + 1 < ie && a[ia] == '0') ++ia;  // leading zeros do not change the value
            while (jb + 1 < je && b[jb] == '0') ++jb;
            if (ie - ia != je - jb) return ie - ia < je - jb;
            if (const int c = a.compare(ia, ie - ia, b, jb, je - jb); c != 0) return c < 0;
            i = ie, j = je;
        } else {
            if (a[i] != b[j]) return a[i] < b[j];
            ++i, ++j;
        }
    }
    return a.size() - i < b.size() - j;
}

// FNV-1a, 64 bit: a cheap fingerprint to compare tensors across tools.
uint64_t fnv1a64(std::span<const std::byte> bytes) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (std::byte b : bytes) {
        h ^= static_cast<uint64_t>(b);
        h *= 0x100000001b3ull;
    }
    return h;
}

std::string hex64(uint64_t v) {
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
    return buf;
}

std::string shape_text(const std::vector<int64_t>& shape) {
    std::string s = "[";
    for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
    return s + "]";
}

std::vector<Row> collect_rows(const std::vector<std::shared_ptr<SafetensorsFile>>& files, bool checksums) {
    std::vector<Row> rows;
    for (const auto& f : files)
        for (const auto& t : f->tensors()) {
            Row r{&t, fs::path(f->path()).filename().string(), std::nullopt};
            if (checksums) r.checksum = fnv1a64(f->view(t.name).bytes);
            rows.push_back(std::move(r));
        }
    std::sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) { return natural_less(a.info->name, b.info->name); });
    return rows;
}

ordered_json rows_json(const std::vector<Row>& rows) {
    ordered_json out = ordered_json::array();
    for (const auto& r : rows) {
        ordered_json t{{"name", r.info->name},
                       {"dtype", glq::io::dtype_name(r.info->dtype)},
                       {"shape", r.info->shape},
                       {"parameters", r.info->numel()},
                       {"bytes", r.info->nbytes()},
                       {"file", r.file},
                       {"data_offsets", {r.info->begin, r.info->end}}};
        if (r.checksum) t["fnv1a64"] = hex64(*r.checksum);
        out.push_back(std::move(t));
    }
    return out;
}

void print_rows(std::ostream& out, const std::vector<Row>& rows, bool several_files) {
    std::size_t name_w = 4, shape_w = 5, file_w = 4;
    for (const auto& r : rows) {
        name_w = std::max(name_w, r.info->name.size());
        shape_w = std::max(shape_w, shape_text(r.info->shape).size());
        file_w = std::max(file_w, r.file.size());
    }
    auto line = [&](const std::string& name, const std::string& dtype, const std::string& shape,
                    const std::string& params, const std::string& bytes, const std::string& file,
                    const std::string& sum) {
        out << std::left << std::setw(int(name_w)) << name << "  " << std::setw(7) << dtype << "  "
            << std::setw(int(shape_w)) << shape << "  " << std::right << std::setw(12) << params << "  "
            << std::setw(12) << bytes;
        if (several_files) out << "  " << std::left << std::setw(int(file_w)) << file;
        if (!sum.empty()) out << "  " << sum;
        out << "\n";
    };
    const bool sums = !rows.empty() && rows.front().checksum.has_value();
    line("name", "dtype", "shape", "parameters", "bytes", "file", sums ? "fnv1a64" : "");
    for (const auto& r : rows)
        line(r.info->name, glq::io::dtype_name(r.info->dtype), shape_text(r.info->shape),
             std::to_string(r.info->numel()), std::to_string(r.info->nbytes()), r.file,
             r.checksum ? hex64(*r.checksum) : "");
}

// GLQ layer_bpw grouped by decoder layer: "model.layers.3.mlp.up_proj" -> 3.
void print_layer_bpw(std::ostream& out, const std::map<std::string, double>& layer_bpw) {
    std::map<double, std::size_t> histogram;
    std::map<std::string, std::vector<std::pair<std::string, double>>, decltype(&natural_less)> by_layer(&natural_less);
    for (const auto& [prefix, bpw] : layer_bpw) {
        ++histogram[bpw];
        const auto pos = prefix.find("layers.");
        std::string layer = "other", rest = prefix;
        if (pos != std::string::npos) {
            const auto dot = prefix.find('.', pos + 7);
            if (dot != std::string::npos) {
                layer = prefix.substr(0, dot);
                rest = prefix.substr(dot + 1);
            }
        }
        by_layer[layer].emplace_back(rest, bpw);
    }
    out << "bpw histogram";
    for (const auto& [bpw, n] : histogram) out << "  " << bpw << " bpw: " << n;
    out << "\nper-layer bpw\n";
    for (auto& [layer, modules] : by_layer) {
        std::sort(modules.begin(), modules.end());
        out << "  " << layer << ":";
        for (const auto& [m, bpw] : modules) out << " " << m << "=" << bpw;
        out << "\n";
    }
}

ordered_json model_json(const glq::io::ModelDir& m, const std::vector<Row>& rows) {
    const auto& c = m.config();
    ordered_json j;
    j["path"] = m.path().string();
    j["architecture"] = c.architecture;
    j["model_type"] = c.model_type;
    j["num_hidden_layers"] = c.num_hidden_layers;
    j["num_attention_heads"] = c.num_attention_heads;
    j["num_key_value_heads"] = c.num_key_value_heads;
    j["head_dim"] = c.head_dim;
    j["hidden_size"] = c.hidden_size;
    j["intermediate_size"] = c.intermediate_size;
    j["vocab_size"] = c.vocab_size;
    j["max_position_embeddings"] = c.max_position_embeddings;
    j["num_parameters"] = c.num_parameters();
    j["dtype"] = c.torch_dtype;
    j["tie_word_embeddings"] = c.tie_word_embeddings;
    j["rope"] = {{"theta", c.rope_theta}, {"type", c.rope_scaling.type}, {"factor", c.rope_scaling.factor}};
    ordered_json nope = ordered_json::array();
    for (std::size_t i = 0; i < c.use_rope.size(); ++i)
        if (!c.use_rope[i]) nope.push_back(i);
    j["nope_layers"] = nope;
    j["sliding_window"] = c.sliding_window ? ordered_json(*c.sliding_window) : ordered_json(nullptr);
    j["size_on_disk"] = m.size_on_disk();
    j["weights_bytes"] = m.weights().total_bytes();
    j["sharded"] = m.sharded();
    ordered_json files = ordered_json::array();
    for (const auto& f : m.weights().files())
        files.push_back({{"name", fs::path(f->path()).filename().string()}, {"size", f->file_size()},
                         {"tensors", f->tensors().size()}});
    j["files"] = files;
    if (const auto& q = m.quantization()) {
        ordered_json qj{{"quant_method", q->quant_method}};
        if (q->is_glq()) {
            qj["codebook"] = q->codebook;
            qj["bpw"] = q->bpw ? ordered_json(*q->bpw) : ordered_json(nullptr);
            qj["layer_bpw"] = q->layer_bpw;
        }
        j["quantization"] = qj;
    } else {
        j["quantization"] = nullptr;
    }
    const auto& g = m.generation();
    j["generation"] = {{"from_file", g.from_file}, {"do_sample", g.do_sample}, {"temperature", g.temperature},
                       {"top_k", g.top_k}, {"top_p", g.top_p}, {"eos_token_ids", g.eos_token_ids}};
    j["tensors"] = rows_json(rows);
    return j;
}

int run_info(int argc, char** argv) {
    glq::cli::ArgParser args("info", "Describe a model folder or a .safetensors file from its config and headers "
                                     "(no weights are loaded).");
    args.positional("MODEL", "an HF model folder (config.json, safetensors weights, tokenizer files) or a .safetensors file")
        .flag("json", "print one JSON object instead of text")
        .flag("summary", "leave out the per-tensor table")
        .flag("checksums", "add an FNV-1a 64-bit checksum of each tensor's bytes (reads all weights)");
    if (!args.parse(argc, argv, std::cout)) return 0;
    const fs::path target = args.get("MODEL");
    const bool as_json = args.has("json"), tensors = !args.has("summary"), checksums = args.has("checksums");

    std::error_code ec;
    if (fs::is_regular_file(target, ec)) {
        const auto file = SafetensorsFile::open(target);
        const auto rows = collect_rows({file}, checksums);
        if (as_json) {
            ordered_json j{{"path", target.string()}, {"size_on_disk", file->file_size()},
                           {"metadata", file->metadata()}};
            if (tensors) j["tensors"] = rows_json(rows);
            std::cout << j.dump(1) << "\n";
            return 0;
        }
        std::cout << "file          " << target.string() << "\n"
                  << "tensors       " << rows.size() << ", " << glq::io::human_bytes(file->file_size()) << "\n";
        for (const auto& [k, v] : file->metadata()) std::cout << "metadata      " << k << " = " << v << "\n";
        if (tensors) {
            std::cout << "\n";
            print_rows(std::cout, rows, false);
        }
        return 0;
    }

    const auto model = glq::io::ModelDir::open(target);
    const auto rows = collect_rows(model.weights().files(), checksums);
    if (as_json) {
        auto j = model_json(model, rows);
        if (!tensors) j.erase("tensors");
        std::cout << j.dump(1) << "\n";
        return 0;
    }
    std::cout << model.describe();
    if (const auto& q = model.quantization(); q && q->is_glq() && !q->layer_bpw.empty()) {
        std::cout << "\n";
        print_layer_bpw(std::cout, q->layer_bpw);
    }
    if (tensors) {
        std::cout << "\n";
        print_rows(std::cout, rows, model.weights().files().size() > 1);
    }
    return 0;
}

} // namespace

GLQW_COMMAND("info", "Describe a model folder or .safetensors file (config, sizes, tensors, GLQ bpw)", run_info);
