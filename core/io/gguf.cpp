// GGUF reader: mmap + one validating pass over header, metadata and tensor
// infos. Every length read from the file is checked against the bytes that
// remain before it is used, so a corrupt or hostile header cannot make us
// allocate or read beyond the mapping.

#include "core/io/gguf.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>

#include "core/common/error.h"
#include "core/io/unicode.h"

namespace glq::io {

static_assert(std::endian::native == std::endian::little, "the GGUF reader assumes a little-endian host");

namespace {

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" read as little-endian u32
constexpr uint64_t kDefaultAlignment = 32;
constexpr int kMaxDims = 4;              // GGML_MAX_DIMS
constexpr int kMaxArrayNesting = 8;      // real files nest at most once

struct TypeRow {
    uint32_t id;
    GgmlTypeInfo info;
};

// ggml's type table (block size, bytes per block), as in gguf-py's GGML_QUANT_SIZES.
constexpr TypeRow kGgmlTypes[] = {
    {0, {"F32", 1, 4}},          {1, {"F16", 1, 2}},
    {2, {"Q4_0", 32, 18}},       {3, {"Q4_1", 32, 20}},
    {6, {"Q5_0", 32, 22}},       {7, {"Q5_1", 32, 24}},
    {8, {"Q8_0", 32, 34}},       {9, {"Q8_1", 32, 40}},
    {10, {"Q2_K", 256, 84}},     {11, {"Q3_K", 256, 110}},
    {12, {"Q4_K", 256, 144}},    {13, {"Q5_K", 256, 176}},
    {14, {"Q6_K", 256, 210}},    {15, {"Q8_K", 256, 292}},
    {16, {"IQ2_XXS", 256, 66}},  {17, {"IQ2_XS", 256, 74}},
    {18, {"IQ3_XXS", 256, 98}},  {19, {"IQ1_S", 256, 50}},
    {20, {"IQ4_NL", 32, 18}},    {21, {"IQ3_S", 256, 110}},
    {22, {"IQ2_S", 256, 82}},    {23, {"IQ4_XS", 256, 136}},
    {24, {"I8", 1, 1}},          {25, {"I16", 1, 2}},
    {26, {"I32", 1, 4}},         {27, {"I64", 1, 8}},
    {28, {"F64", 1, 8}},         {29, {"IQ1_M", 256, 56}},
    {30, {"BF16", 1, 2}},        {34, {"TQ1_0", 256, 54}},
    {35, {"TQ2_0", 256, 66}},    {39, {"MXFP4", 32, 17}},
    {40, {"NVFP4", 64, 36}},     {41, {"Q1_0", 128, 18}},
};

// Sequential little-endian reader over the mapping that names the file and
// what it was reading whenever the bytes run out.
class Cursor {
public:
    Cursor(const std::byte* data, std::size_t size, const std::string& path)
        : data_(data), size_(size), path_(path) {}

    std::size_t pos() const { return pos_; }
    uint64_t remaining() const { return size_ - pos_; }

    void need(uint64_t n, const std::string& what) const {
        if (n > remaining())
            throw Error(path_, "file is truncated or corrupt: " + what + " needs " + std::to_string(n) +
                                   " bytes at offset " + std::to_string(pos_) + " but only " +
                                   std::to_string(remaining()) + " remain");
    }

    template <typename T>
    T read(const std::string& what) {
        need(sizeof(T), what);
        T value;
        std::memcpy(&value, data_ + pos_, sizeof(T));
        pos_ += sizeof(T);
        return value;
    }

    std::string read_string(const std::string& what) {
        const uint64_t length = read<uint64_t>(what + " (length)");
        need(length, what);
        std::string s(reinterpret_cast<const char*>(data_ + pos_), static_cast<std::size_t>(length));
        pos_ += static_cast<std::size_t>(length);
        // GGUF strings are UTF-8; import writes them into JSON files, where an
        // invalid sequence would fail far from here (nlohmann's type_error.316).
        if (unicode::utf8_lossy(s) != s) throw Error(path_, what + " is not valid UTF-8");
        return s;
    }

private:
    const std::byte* data_;
    std::size_t size_;
    std::size_t pos_ = 0;
    const std::string& path_;
};

bool known_value_type(uint32_t t) { return t <= static_cast<uint32_t>(GgufValueType::FLOAT64); }

// The fewest bytes one element of this type can take on disk (a string is at
// least its u64 length, an array at least its type and count).
uint64_t min_encoded_size(GgufValueType t) {
    switch (t) {
        case GgufValueType::UINT8: case GgufValueType::INT8: case GgufValueType::BOOL: return 1;
        case GgufValueType::UINT16: case GgufValueType::INT16: return 2;
        case GgufValueType::UINT32: case GgufValueType::INT32: case GgufValueType::FLOAT32: return 4;
        case GgufValueType::UINT64: case GgufValueType::INT64: case GgufValueType::FLOAT64:
        case GgufValueType::STRING: return 8;
        case GgufValueType::ARRAY: return 12;
    }
    return 1;
}

GgufValue read_value(Cursor& in, GgufValueType type, const std::string& what, int depth,
                     const std::string& path) {
    switch (type) {
        case GgufValueType::UINT8: return {type, uint64_t{in.read<uint8_t>(what)}};
        case GgufValueType::INT8: return {type, int64_t{in.read<int8_t>(what)}};
        case GgufValueType::UINT16: return {type, uint64_t{in.read<uint16_t>(what)}};
        case GgufValueType::INT16: return {type, int64_t{in.read<int16_t>(what)}};
        case GgufValueType::UINT32: return {type, uint64_t{in.read<uint32_t>(what)}};
        case GgufValueType::INT32: return {type, int64_t{in.read<int32_t>(what)}};
        case GgufValueType::UINT64: return {type, in.read<uint64_t>(what)};
        case GgufValueType::INT64: return {type, in.read<int64_t>(what)};
        case GgufValueType::FLOAT32: return {type, double{in.read<float>(what)}};
        case GgufValueType::FLOAT64: return {type, in.read<double>(what)};
        case GgufValueType::BOOL: {
            const uint8_t b = in.read<uint8_t>(what);
            if (b > 1) throw Error(path, what + " is a bool with the invalid value " + std::to_string(b));
            return {type, b == 1};
        }
        case GgufValueType::STRING: return {type, in.read_string(what)};
        case GgufValueType::ARRAY: {
            if (depth >= kMaxArrayNesting)
                throw Error(path, what + " nests arrays more than " + std::to_string(kMaxArrayNesting) + " deep");
            const uint32_t element = in.read<uint32_t>(what + " (array element type)");
            if (!known_value_type(element))
                throw Error(path, what + " is an array of unknown value type " + std::to_string(element));
            const auto element_type = static_cast<GgufValueType>(element);
            const uint64_t count = in.read<uint64_t>(what + " (array length)");
            // Never reserve what the header asks for before checking it can fit.
            if (count > in.remaining() / min_encoded_size(element_type))
                throw Error(path, what + " claims an array of " + std::to_string(count) + " " +
                                      gguf_value_type_name(element_type) +
                                      " elements, more than the rest of the file (" +
                                      std::to_string(in.remaining()) +
                                      " bytes) can hold: the file is truncated or corrupt");
            auto array = std::make_shared<GgufArray>();
            array->element_type = element_type;
            array->items.reserve(static_cast<std::size_t>(count));
            for (uint64_t i = 0; i < count; ++i)
                array->items.push_back(read_value(in, element_type, what + "[" + std::to_string(i) + "]",
                                                  depth + 1, path));
            return {type, std::shared_ptr<const GgufArray>(std::move(array))};
        }
    }
    throw Error(path, what + " has unknown value type " + std::to_string(static_cast<uint32_t>(type)));
}

bool checked_mul(uint64_t a, uint64_t b, uint64_t& out) { return !__builtin_mul_overflow(a, b, &out); }

std::string in_quotes(std::string_view s) {
    std::string out;
    out.reserve(s.size() + 2);
    out.push_back('\'');
    out.append(s);
    out.push_back('\'');
    return out;
}

} // namespace

const GgmlTypeInfo* ggml_type_info(uint32_t type) {
    for (const auto& row : kGgmlTypes)
        if (row.id == type) return &row.info;
    return nullptr;
}

const char* ggml_type_name(GgmlType type) {
    const GgmlTypeInfo* info = ggml_type_info(static_cast<uint32_t>(type));
    return info ? info->name : "unknown";
}

const char* gguf_value_type_name(GgufValueType type) {
    switch (type) {
        case GgufValueType::UINT8: return "uint8";
        case GgufValueType::INT8: return "int8";
        case GgufValueType::UINT16: return "uint16";
        case GgufValueType::INT16: return "int16";
        case GgufValueType::UINT32: return "uint32";
        case GgufValueType::INT32: return "int32";
        case GgufValueType::FLOAT32: return "float32";
        case GgufValueType::BOOL: return "bool";
        case GgufValueType::STRING: return "string";
        case GgufValueType::ARRAY: return "array";
        case GgufValueType::UINT64: return "uint64";
        case GgufValueType::INT64: return "int64";
        case GgufValueType::FLOAT64: return "float64";
    }
    return "unknown";
}

bool GgufValue::is_integer() const {
    switch (type_) {
        case GgufValueType::UINT8: case GgufValueType::INT8: case GgufValueType::UINT16:
        case GgufValueType::INT16: case GgufValueType::UINT32: case GgufValueType::INT32:
        case GgufValueType::UINT64: case GgufValueType::INT64: return true;
        default: return false;
    }
}

std::string GgufValue::describe() const {
    if (type_ != GgufValueType::ARRAY) return gguf_value_type_name(type_);
    const GgufArray& a = as_array();
    return "array of " + std::to_string(a.items.size()) + " " + gguf_value_type_name(a.element_type);
}

int64_t GgufTensorInfo::numel() const {
    int64_t n = 1;
    for (int64_t d : dims) n *= d;
    return n;
}

std::shared_ptr<const GgufFile> GgufFile::open(const std::filesystem::path& path) {
    std::shared_ptr<GgufFile> file(new GgufFile());
    file->path_ = path.string();
    const int fd = ::open(file->path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw Error(file->path_, std::string("cannot open: ") + std::strerror(errno));
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        const int err = errno;
        ::close(fd);
        throw Error(file->path_, std::string("cannot stat: ") + std::strerror(err));
    }
    if (!S_ISREG(st.st_mode)) {
        ::close(fd);
        throw Error(file->path_, "not a regular file");
    }
    file->size_ = static_cast<std::size_t>(st.st_size);
    if (file->size_ == 0) {
        ::close(fd);
        throw Error(file->path_, "file is empty, not a GGUF file");
    }
    void* map = ::mmap(nullptr, file->size_, PROT_READ, MAP_PRIVATE, fd, 0);
    const int err = errno;
    ::close(fd);
    if (map == MAP_FAILED) throw Error(file->path_, std::string("cannot map: ") + std::strerror(err));
    file->map_ = static_cast<const std::byte*>(map);
    file->parse();
    return file;
}

GgufFile::~GgufFile() {
    if (map_) ::munmap(const_cast<std::byte*>(map_), size_);
}

void GgufFile::parse() {
    Cursor in(map_, size_, path_);

    if (size_ < 4) throw Error(path_, "file is truncated: " + std::to_string(size_) + " bytes, not a GGUF file");
    const uint32_t magic = in.read<uint32_t>("magic");
    if (magic != kMagic) {
        std::string shown;
        for (int i = 0; i < 4; ++i) {
            const auto c = static_cast<unsigned char>(map_[i]);
            char buf[8];
            std::snprintf(buf, sizeof buf, (c >= 0x20 && c < 0x7f) ? "%c" : "\\x%02x", c);
            shown += buf;
        }
        throw Error(path_, "not a GGUF file (magic bytes are '" + shown + "', expected 'GGUF')");
    }
    version_ = in.read<uint32_t>("version");
    if (version_ != 2 && version_ != 3) {
        if (version_ == 0x02000000u || version_ == 0x03000000u)
            throw Error(path_, "big-endian GGUF files are not supported");
        throw Error(path_, "unsupported GGUF version " + std::to_string(version_) + " (supported: 2 and 3)");
    }
    const uint64_t n_tensors = in.read<uint64_t>("tensor count");
    const uint64_t n_kv = in.read<uint64_t>("metadata count");
    // Smallest possible entries: a key-value pair is a u64 key length, a u32
    // type and one byte; a tensor info a u64 name length, a u32 n_dims, one u64
    // dim, a u32 type and a u64 offset.
    if (n_kv > in.remaining() / 13)
        throw Error(path_, "absurd metadata count " + std::to_string(n_kv) + " for a file of " +
                               std::to_string(size_) + " bytes: the file is truncated or its header is corrupt");
    if (n_tensors > in.remaining() / 32)
        throw Error(path_, "absurd tensor count " + std::to_string(n_tensors) + " for a file of " +
                               std::to_string(size_) + " bytes: the file is truncated or its header is corrupt");

    metadata_.reserve(static_cast<std::size_t>(n_kv));
    for (uint64_t i = 0; i < n_kv; ++i) {
        const std::string where = "metadata entry " + std::to_string(i);
        std::string key = in.read_string(where + " key");
        const std::string what = "metadata " + in_quotes(key);
        const uint32_t type = in.read<uint32_t>(what + " (value type)");
        if (!known_value_type(type))
            throw Error(path_, what + " has unknown value type " + std::to_string(type));
        GgufValue value = read_value(in, static_cast<GgufValueType>(type), what, 0, path_);
        if (metadata_index_.count(key)) throw Error(path_, what + " appears twice");
        metadata_index_.emplace(key, metadata_.size());
        metadata_.emplace_back(std::move(key), std::move(value));
    }

    if (const GgufValue* a = find("general.alignment")) {
        if (a->type() != GgufValueType::UINT32)
            throw Error(path_, "metadata 'general.alignment' is " + a->describe() + ", expected uint32");
        const uint64_t alignment = a->as_uint();
        if (alignment == 0 || !std::has_single_bit(alignment))
            throw Error(path_, "metadata 'general.alignment' is " + std::to_string(alignment) +
                                   ", expected a power of two");
        alignment_ = alignment;
    } else {
        alignment_ = kDefaultAlignment;
    }

    tensors_.reserve(static_cast<std::size_t>(n_tensors));
    for (uint64_t i = 0; i < n_tensors; ++i) {
        GgufTensorInfo t;
        t.name = in.read_string("tensor info " + std::to_string(i) + " name");
        const std::string what = "tensor " + in_quotes(t.name);
        const uint32_t n_dims = in.read<uint32_t>(what + " (dimension count)");
        if (n_dims < 1 || n_dims > kMaxDims)
            throw Error(path_, what + " has " + std::to_string(n_dims) + " dimensions (1 to " +
                                   std::to_string(kMaxDims) + " allowed)");
        uint64_t numel = 1;
        for (uint32_t d = 0; d < n_dims; ++d) {
            const uint64_t dim = in.read<uint64_t>(what + " (dimension)");
            if (dim > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) || !checked_mul(numel, dim, numel) ||
                numel > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
                throw Error(path_, what + " has absurd dimensions (element count overflows)");
            t.dims.push_back(static_cast<int64_t>(dim));
        }
        const uint32_t type = in.read<uint32_t>(what + " (type)");
        const GgmlTypeInfo* info = ggml_type_info(type);
        if (!info) throw Error(path_, what + " has unknown ggml type " + std::to_string(type));
        t.type = static_cast<GgmlType>(type);
        t.offset = in.read<uint64_t>(what + " (data offset)");
        if (t.dims[0] % info->block_size != 0)
            throw Error(path_, what + " has rows of " + std::to_string(t.dims[0]) + " elements, not a multiple of " +
                                   info->name + "'s block size " + std::to_string(info->block_size));
        if (!checked_mul(numel / static_cast<uint64_t>(info->block_size), static_cast<uint64_t>(info->type_size),
                         t.nbytes))
            throw Error(path_, what + " has absurd dimensions (byte size overflows)");
        if (t.offset % alignment_ != 0)
            throw Error(path_, what + " data offset " + std::to_string(t.offset) + " is not a multiple of the alignment " +
                                   std::to_string(alignment_));
        if (tensor_index_.count(t.name)) throw Error(path_, what + " appears twice");
        tensor_index_.emplace(t.name, tensors_.size());
        tensors_.push_back(std::move(t));
    }

    // The data section starts at the next multiple of the alignment.
    const uint64_t header_end = in.pos();
    data_offset_ = (header_end + alignment_ - 1) / alignment_ * alignment_;
    const uint64_t data_size = data_offset_ <= size_ ? size_ - data_offset_ : 0;
    for (const GgufTensorInfo& t : tensors_) {
        if (data_offset_ > size_ || t.offset > data_size || t.nbytes > data_size - t.offset)
            throw Error(path_, "tensor " + in_quotes(t.name) + " data (" + std::to_string(t.nbytes) +
                                   " bytes at offset " + std::to_string(data_offset_ + t.offset) +
                                   ") lies beyond the end of the file (" + std::to_string(size_) +
                                   " bytes): the file is truncated or its header is corrupt");
    }
    // Tensors must not share bytes: a header that says so is corrupt.
    std::vector<const GgufTensorInfo*> by_offset;
    for (const auto& t : tensors_) by_offset.push_back(&t);
    std::sort(by_offset.begin(), by_offset.end(),
              [](const auto* a, const auto* b) { return a->offset < b->offset; });
    for (std::size_t i = 1; i < by_offset.size(); ++i) {
        const auto* prev = by_offset[i - 1];
        if (prev->nbytes > 0 && by_offset[i]->offset < prev->offset + prev->nbytes)
            throw Error(path_, "tensors " + in_quotes(prev->name) + " and " + in_quotes(by_offset[i]->name) +
                                   " overlap in the data section (corrupt header)");
    }
}

const GgufValue* GgufFile::find(std::string_view key) const {
    auto it = metadata_index_.find(key);
    return it == metadata_index_.end() ? nullptr : &metadata_[it->second].second;
}

namespace {
[[noreturn]] void wrong_type(const std::string& path, std::string_view key, const GgufValue& v, const char* expected) {
    throw Error(path, "metadata " + in_quotes(key) + " is " + v.describe() + ", expected " + expected);
}
} // namespace

std::string GgufFile::get_string(std::string_view key) const {
    const GgufValue* v = find(key);
    if (!v) throw Error(path_, "metadata " + in_quotes(key) + " is missing");
    if (v->type() != GgufValueType::STRING) wrong_type(path_, key, *v, "a string");
    return v->as_string();
}

int64_t GgufFile::get_int(std::string_view key) const {
    auto v = get_int_opt(key);
    if (!v) throw Error(path_, "metadata " + in_quotes(key) + " is missing");
    return *v;
}

std::optional<int64_t> GgufFile::get_int_opt(std::string_view key) const {
    const GgufValue* v = find(key);
    if (!v) return std::nullopt;
    if (!v->is_integer()) wrong_type(path_, key, *v, "an integer");
    switch (v->type()) {
        case GgufValueType::INT8: case GgufValueType::INT16: case GgufValueType::INT32: case GgufValueType::INT64:
            return v->as_int();
        default:
            if (v->as_uint() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
                throw Error(path_, "metadata " + in_quotes(key) + " value " + std::to_string(v->as_uint()) + " is out of range");
            return static_cast<int64_t>(v->as_uint());
    }
}

uint64_t GgufFile::get_uint(std::string_view key) const {
    const int64_t v = get_int(key);
    if (v < 0) throw Error(path_, "metadata " + in_quotes(key) + " is negative (" + std::to_string(v) + ")");
    return static_cast<uint64_t>(v);
}

double GgufFile::get_float(std::string_view key) const {
    auto v = get_float_opt(key);
    if (!v) throw Error(path_, "metadata " + in_quotes(key) + " is missing");
    return *v;
}

std::optional<double> GgufFile::get_float_opt(std::string_view key) const {
    const GgufValue* v = find(key);
    if (!v) return std::nullopt;
    if (!v->is_float()) wrong_type(path_, key, *v, "a float");
    return v->as_float();
}

bool GgufFile::get_bool(std::string_view key) const {
    const GgufValue* v = find(key);
    if (!v) throw Error(path_, "metadata " + in_quotes(key) + " is missing");
    if (v->type() != GgufValueType::BOOL) wrong_type(path_, key, *v, "a bool");
    return v->as_bool();
}

bool GgufFile::get_bool_or(std::string_view key, bool fallback) const {
    return contains(key) ? get_bool(key) : fallback;
}

std::string GgufFile::get_string_or(std::string_view key, const std::string& fallback) const {
    return contains(key) ? get_string(key) : fallback;
}

const GgufArray& GgufFile::get_array(std::string_view key, GgufValueType element_type) const {
    const GgufValue* v = find(key);
    if (!v) throw Error(path_, "metadata " + in_quotes(key) + " is missing");
    const std::string expected = std::string("an array of ") + gguf_value_type_name(element_type);
    if (v->type() != GgufValueType::ARRAY || v->as_array().element_type != element_type)
        wrong_type(path_, key, *v, expected.c_str());
    return v->as_array();
}

const GgufTensorInfo* GgufFile::find_tensor(std::string_view name) const {
    auto it = tensor_index_.find(name);
    return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

std::span<const std::byte> GgufFile::tensor_data(const GgufTensorInfo& tensor) const {
    return {map_ + data_offset_ + tensor.offset, static_cast<std::size_t>(tensor.nbytes)};
}

} // namespace glq::io
