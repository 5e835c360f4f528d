#include "tests/support/tiny_model.h"

#include <cstring>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/common/atomic_file.h"
#include "core/common/error.h"
#include "core/io/safetensors.h"

namespace glq::test {

namespace fs = std::filesystem;

namespace {
constexpr int64_t kExtra = 4;  // 172 + 4 = 176 = 22 * 8
}

fs::path stories260k_dir(const fs::path& shared_data) { return shared_data / "models" / "stories260K"; }

fs::path make_padded_stories(const fs::path& shared_data, const fs::path& dir) {
    const fs::path src = stories260k_dir(shared_data);
    fs::create_directories(dir);
    const auto weights = io::SafetensorsModel::open_dir(src);
    std::vector<io::TensorData> tensors;
    for (const std::string& name : weights.names()) {
        const io::TensorView v = weights.view(name);
        if (v.info->dtype != io::DType::F32) throw Error((src / "model.safetensors").string(), name + ": expected F32");
        io::TensorData t{name, io::DType::F32, v.info->shape, {v.bytes.begin(), v.bytes.end()}};
        const bool rows = name.find("gate_proj.weight") != std::string::npos ||
                          name.find("up_proj.weight") != std::string::npos;
        if (rows) {
            std::vector<std::byte> grown(t.bytes.size() + static_cast<size_t>(kExtra * t.shape[1]) * sizeof(float));
            std::memcpy(grown.data(), t.bytes.data(), t.bytes.size());  // the new rows stay zero
            t.shape[0] += kExtra;
            t.bytes = std::move(grown);
        } else if (name.find("down_proj.weight") != std::string::npos) {
            const int64_t r = t.shape[0], c = t.shape[1];
            std::vector<std::byte> padded(static_cast<size_t>(r * (c + kExtra)) * sizeof(float));
            for (int64_t i = 0; i < r; ++i)
                std::memcpy(padded.data() + static_cast<size_t>(i * (c + kExtra)) * sizeof(float),
                            v.bytes.data() + static_cast<size_t>(i * c) * sizeof(float), static_cast<size_t>(c) * sizeof(float));
            t.shape[1] = c + kExtra;
            t.bytes = std::move(padded);
        }
        tensors.push_back(std::move(t));
    }
    io::write_safetensors(dir / "model.safetensors", tensors);
    nlohmann::json config = nlohmann::json::parse(read_file(src / "config.json"));
    config["intermediate_size"] = config.at("intermediate_size").get<int64_t>() + kExtra;
    write_file_atomic(dir / "config.json", config.dump(2));
    for (const char* f : {"tokenizer.json", "tokenizer_config.json", "generation_config.json"})
        fs::copy_file(src / f, dir / f, fs::copy_options::overwrite_existing);
    return dir;
}

} // namespace glq::test
