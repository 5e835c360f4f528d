#pragma once
// safetensors: a memory-mapped, zero-copy reader (single file or sharded via
// model.safetensors.index.json) and an atomic writer. Plain C++: tensors are
// byte spans plus dtype and shape; core/model turns them into LibTorch tensors.
//
// Format: u64 little-endian header length N, N bytes of JSON
// {"name": {"dtype": "BF16", "shape": [..], "data_offsets": [begin, end]}, ...,
//  "__metadata__": {"k": "v"}}, then the data block. Offsets are relative to
// the data block. The writer pads the header with spaces to a multiple of 8.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace glq::io {

enum class DType { BOOL, U8, I8, U16, I16, U32, I32, U64, I64, F16, BF16, F32, F64, F8_E4M3, F8_E5M2 };

// "BF16" <-> DType. parse throws glq::Error(where, ...) on an unknown name.
DType parse_dtype(const std::string& name, const std::string& where);
const char* dtype_name(DType dtype);
std::size_t dtype_size(DType dtype);

struct TensorInfo {
    std::string name;
    DType dtype = DType::F32;
    std::vector<int64_t> shape;
    uint64_t begin = 0;  // byte offsets inside the data block
    uint64_t end = 0;
    int64_t numel() const;
    uint64_t nbytes() const { return end - begin; }
};

// A view of one tensor's bytes inside a mapped file; valid while the file lives.
struct TensorView {
    const TensorInfo* info = nullptr;
    std::span<const std::byte> bytes;
    const std::string* file = nullptr;  // path of the file it lives in
};

class SafetensorsFile {
public:
    // Maps the file and validates it: at least 8 bytes, header length within
    // the file, header a JSON object, no tensor named twice, known dtypes, no
    // negative dimension, dtype x shape = byte length (without overflow),
    // offsets inside the data block and not overlapping. Every failure throws
    // glq::Error naming the file, the tensor and the problem. Gaps between
    // tensors and trailing bytes are tolerated (the Rust reference rejects
    // them; nothing is ambiguous about them), and so are dtypes' raw bits:
    // NaNs, denormals and non-0/1 BOOL bytes are passed through untouched.
    static std::shared_ptr<SafetensorsFile> open(const std::filesystem::path& path);
    ~SafetensorsFile();

    const std::string& path() const { return path_; }
    // In data-block order (ascending offsets).
    const std::vector<TensorInfo>& tensors() const { return tensors_; }
    const std::map<std::string, std::string>& metadata() const { return metadata_; }
    uint64_t file_size() const { return map_size_; }
    uint64_t header_size() const { return data_start_; }  // 8 + JSON header length
    const TensorInfo* find(const std::string& name) const;
    // Throws glq::Error naming the file and the tensor if absent.
    TensorView view(const std::string& name) const;

private:
    SafetensorsFile() = default;
    std::string path_;
    std::vector<TensorInfo> tensors_;
    std::map<std::string, std::size_t> index_;
    std::map<std::string, std::string> metadata_;
    const std::byte* map_ = nullptr;
    std::size_t map_size_ = 0;
    std::size_t data_start_ = 0;
};

// All the weights of an HF model directory: model.safetensors, or the shards
// listed in model.safetensors.index.json. With an index, every named shard
// must exist, hold the tensors the index assigns to it, and no tensor may
// live in two shards; a shard may hold tensors the index does not list.
class SafetensorsModel {
public:
    static SafetensorsModel open_dir(const std::filesystem::path& dir);
    bool contains(const std::string& name) const;
    // Throws glq::Error("<dir>: tensor '<name>' is missing") if absent.
    TensorView view(const std::string& name) const;
    std::vector<std::string> names() const;  // sorted
    const std::vector<std::shared_ptr<SafetensorsFile>>& files() const { return files_; }
    uint64_t total_bytes() const;  // tensor data only
    uint64_t file_bytes() const;   // the safetensors files' sizes on disk (headers included)
    const std::string& dir() const { return dir_; }

private:
    std::string dir_;
    std::vector<std::shared_ptr<SafetensorsFile>> files_;
    std::map<std::string, std::size_t> where_;  // tensor -> file index
};

// A tensor to write: owned bytes (already in `dtype`'s little-endian layout).
struct TensorData {
    std::string name;
    DType dtype = DType::F32;
    std::vector<int64_t> shape;
    std::vector<std::byte> bytes;
};

// Writes one safetensors file atomically (temp name + rename): header padded
// with spaces to a multiple of 8, optional __metadata__, then the tensors
// grouped by element size, largest first, in the given order within a group.
// The format allows no gaps between tensors, so this grouping (the Python
// package's) is what puts every tensor at an offset aligned to its element
// size, letting readers use the mapped bytes in place.
// Throws glq::Error naming the file on a failed write (e.g. disk full).
void write_safetensors(const std::filesystem::path& path, const std::vector<TensorData>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

// Same, for callers that keep the bytes elsewhere (no copy). `on_written`,
// when given, hears the bytes written so far and the file's total after
// each tensor (progress of a large export).
struct TensorRef {
    std::string name;
    DType dtype = DType::F32;
    std::vector<int64_t> shape;
    std::span<const std::byte> bytes;
};
using BytesWrittenFn = std::function<void(uint64_t written, uint64_t total)>;
void write_safetensors(const std::filesystem::path& path, const std::vector<TensorRef>& tensors,
                       const std::map<std::string, std::string>& metadata = {},
                       const BytesWrittenFn& on_written = {});

// bf16/f16 <-> f32 conversions shared by the importers and the writer
// (round-to-nearest-even, NaN preserved).
uint16_t f32_to_bf16(float x);
float bf16_to_f32(uint16_t x);
uint16_t f32_to_f16(float x);
float f16_to_f32(uint16_t x);

} // namespace glq::io
