#pragma once
// GGUF (llama.cpp's model file): a memory-mapped reader for versions 2 and 3.
//
// Layout (little-endian): "GGUF", u32 version, u64 tensor count, u64 metadata
// count; then the metadata (string key, u32 value type, value: scalars,
// strings as u64 length + bytes, arrays as u32 element type + u64 count +
// elements, arrays may nest); then per tensor its name, u32 n_dims, u64 dims
// (innermost first, as ggml's ne[]), u32 ggml type and u64 offset; then
// padding to `general.alignment` (default 32) and the tensor data, each
// tensor's offset relative to that aligned start.
//
// open() validates everything before anything is used: every count and
// length is checked against the bytes that remain, so a lying header fails
// with a clear glq::Error naming the file instead of allocating what it asks.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace glq::io {

// ggml tensor types (ggml.h's enum ggml_type); values are the on-disk numbers.
enum class GgmlType : uint32_t {
    F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3, Q5_0 = 6, Q5_1 = 7, Q8_0 = 8, Q8_1 = 9,
    Q2_K = 10, Q3_K = 11, Q4_K = 12, Q5_K = 13, Q6_K = 14, Q8_K = 15,
    IQ2_XXS = 16, IQ2_XS = 17, IQ3_XXS = 18, IQ1_S = 19, IQ4_NL = 20, IQ3_S = 21,
    IQ2_S = 22, IQ4_XS = 23, I8 = 24, I16 = 25, I32 = 26, I64 = 27, F64 = 28,
    IQ1_M = 29, BF16 = 30, TQ1_0 = 34, TQ2_0 = 35, MXFP4 = 39, NVFP4 = 40, Q1_0 = 41,
};

// Elements per block and bytes per block of a ggml type.
struct GgmlTypeInfo {
    const char* name;
    int64_t block_size;
    int64_t type_size;
};
// nullptr for a number that is not a ggml type this reader knows.
const GgmlTypeInfo* ggml_type_info(uint32_t type);
const char* ggml_type_name(GgmlType type);

// Metadata value types (gguf_type).
enum class GgufValueType : uint32_t {
    UINT8 = 0, INT8 = 1, UINT16 = 2, INT16 = 3, UINT32 = 4, INT32 = 5, FLOAT32 = 6,
    BOOL = 7, STRING = 8, ARRAY = 9, UINT64 = 10, INT64 = 11, FLOAT64 = 12,
};
const char* gguf_value_type_name(GgufValueType type);

struct GgufArray;

// One metadata value. Integers keep their signedness, floats are widened to
// double (a FLOAT32 value is exactly representable), arrays hold values.
class GgufValue {
public:
    using Storage = std::variant<uint64_t, int64_t, double, bool, std::string, std::shared_ptr<const GgufArray>>;

    GgufValue() = default;
    GgufValue(GgufValueType type, Storage value) : type_(type), value_(std::move(value)) {}

    GgufValueType type() const { return type_; }
    bool is_integer() const;
    bool is_float() const { return type_ == GgufValueType::FLOAT32 || type_ == GgufValueType::FLOAT64; }

    // Unchecked access: callers check type() first (GgufFile's getters do,
    // and name the file and key when the type is wrong).
    uint64_t as_uint() const { return std::get<uint64_t>(value_); }
    int64_t as_int() const { return std::get<int64_t>(value_); }
    double as_float() const { return std::get<double>(value_); }
    bool as_bool() const { return std::get<bool>(value_); }
    const std::string& as_string() const { return std::get<std::string>(value_); }
    const GgufArray& as_array() const { return *std::get<std::shared_ptr<const GgufArray>>(value_); }

    // "uint32", "string", "array of 49152 string"...
    std::string describe() const;

private:
    GgufValueType type_ = GgufValueType::UINT8;
    Storage value_ = uint64_t{0};
};

struct GgufArray {
    GgufValueType element_type = GgufValueType::UINT8;
    std::vector<GgufValue> items;
};

struct GgufTensorInfo {
    std::string name;
    std::vector<int64_t> dims;  // ggml order: dims[0] is the innermost (contiguous) one
    GgmlType type = GgmlType::F32;
    uint64_t offset = 0;  // relative to the start of the data section
    uint64_t nbytes = 0;
    int64_t numel() const;
    // PyTorch/HF order: reversed dims (outermost first).
    std::vector<int64_t> shape() const { return {dims.rbegin(), dims.rend()}; }
};

class GgufFile {
public:
    // Maps and validates the file; throws glq::Error naming the file for a bad
    // magic, an unsupported version, truncation, an unknown value or tensor
    // type, an absurd count or length, duplicate names, or tensor data that
    // lies outside the file.
    static std::shared_ptr<const GgufFile> open(const std::filesystem::path& path);
    ~GgufFile();
    GgufFile(const GgufFile&) = delete;
    GgufFile& operator=(const GgufFile&) = delete;

    const std::string& path() const { return path_; }
    uint32_t version() const { return version_; }
    uint64_t alignment() const { return alignment_; }
    uint64_t data_offset() const { return data_offset_; }  // absolute file offset of the data section
    uint64_t file_size() const { return size_; }

    // Metadata in file order.
    const std::vector<std::pair<std::string, GgufValue>>& metadata() const { return metadata_; }
    const GgufValue* find(std::string_view key) const;
    bool contains(std::string_view key) const { return find(key) != nullptr; }

    // Typed getters: throw glq::Error naming the file and the key when the key
    // is missing or holds another type (or an integer out of range).
    std::string get_string(std::string_view key) const;
    int64_t get_int(std::string_view key) const;    // any integer type
    uint64_t get_uint(std::string_view key) const;  // any integer type, >= 0
    double get_float(std::string_view key) const;   // FLOAT32/FLOAT64
    bool get_bool(std::string_view key) const;
    // An array whose elements have `element_type` (checked).
    const GgufArray& get_array(std::string_view key, GgufValueType element_type) const;
    // Same getters with a fallback when the key is absent (a wrong type still throws).
    std::string get_string_or(std::string_view key, const std::string& fallback) const;
    std::optional<int64_t> get_int_opt(std::string_view key) const;
    std::optional<double> get_float_opt(std::string_view key) const;
    bool get_bool_or(std::string_view key, bool fallback) const;

    const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }
    const GgufTensorInfo* find_tensor(std::string_view name) const;
    // The tensor's bytes inside the mapping (valid while this object lives).
    std::span<const std::byte> tensor_data(const GgufTensorInfo& tensor) const;

private:
    GgufFile() = default;
    void parse();

    std::string path_;
    uint32_t version_ = 0;
    uint64_t alignment_ = 32;
    uint64_t data_offset_ = 0;
    const std::byte* map_ = nullptr;
    std::size_t size_ = 0;
    std::vector<std::pair<std::string, GgufValue>> metadata_;
    std::map<std::string, std::size_t, std::less<>> metadata_index_;
    std::vector<GgufTensorInfo> tensors_;
    std::map<std::string, std::size_t, std::less<>> tensor_index_;
};

} // namespace glq::io
