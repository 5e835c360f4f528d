#include "core/io/safetensors.h"

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <limits>
#include <optional>
#include <set>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "core/common/atomic_file.h"
#include "core/common/error.h"
#include "core/io/json_file.h"

static_assert(std::endian::native == std::endian::little,
              "safetensors stores little-endian data; this reader maps it without byte swapping");

namespace fs = std::filesystem;

namespace glq::io {
namespace {

struct DTypeEntry {
    DType dtype;
    const char* name;
    std::size_t size;
};

constexpr DTypeEntry kDTypes[] = {
    {DType::BOOL, "BOOL", 1},       {DType::U8, "U8", 1},     {DType::I8, "I8", 1},
    {DType::U16, "U16", 2},         {DType::I16, "I16", 2},   {DType::U32, "U32", 4},
    {DType::I32, "I32", 4},         {DType::U64, "U64", 8},   {DType::I64, "I64", 8},
    {DType::F16, "F16", 2},         {DType::BF16, "BF16", 2}, {DType::F32, "F32", 4},
    {DType::F64, "F64", 8},         {DType::F8_E4M3, "F8_E4M3", 1},
    {DType::F8_E5M2, "F8_E5M2", 1},
};

const DTypeEntry& entry(DType dtype) {
    for (const auto& e : kDTypes)
        if (e.dtype == dtype) return e;
    throw Error("safetensors", "invalid DType value " + std::to_string(static_cast<int>(dtype)));
}

std::string in_quotes(const std::string& s) { return "'" + s + "'"; }

// numel x element size, or nullopt when it does not fit in 64 bits (a
// corrupt or hostile header must not wrap around and pass the size check).
std::optional<uint64_t> checked_nbytes(const std::vector<int64_t>& shape, std::size_t elem) {
    uint64_t n = elem;
    for (int64_t d : shape) {
        if (d < 0) return std::nullopt;
        const auto ud = static_cast<uint64_t>(d);
        if (ud != 0 && n > std::numeric_limits<uint64_t>::max() / ud) return std::nullopt;
        n *= ud;
    }
    return n;
}

std::string shape_text(const std::vector<int64_t>& shape) {
    std::string s = "[";
    for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
    return s + "]";
}

// Reads "name": {"dtype", "shape", "data_offsets"} into a TensorInfo,
// checking types and sizes against a data block of `data_size` bytes.
TensorInfo parse_entry(const std::string& file, const std::string& name, const nlohmann::json& j,
                       uint64_t data_size) {
    auto fail = [&](const std::string& problem) { return Error(file, "tensor " + in_quotes(name) + ": " + problem); };
    if (!j.is_object()) throw fail("header entry is not an object");
    for (const char* key : {"dtype", "shape", "data_offsets"})
        if (!j.contains(key)) throw fail(std::string("header entry lacks '") + key + "'");
    if (!j["dtype"].is_string()) throw fail("'dtype' is not a string");

    TensorInfo info;
    info.name = name;
    {
        const std::string dname = j["dtype"].get<std::string>();
        bool known = false;
        for (const auto& e : kDTypes)
            if (dname == e.name) info.dtype = e.dtype, known = true;
        if (!known) throw fail("unknown dtype " + in_quotes(dname));
    }

    const auto& shape = j["shape"];
    if (!shape.is_array()) throw fail("'shape' is not an array");
    for (const auto& d : shape) {
        if (!d.is_number_integer()) throw fail("'shape' " + json_excerpt(shape) + " holds a non-integer");
        if (d.is_number_unsigned() && d.get<uint64_t>() > uint64_t(std::numeric_limits<int64_t>::max()))
            throw fail("'shape' " + json_excerpt(shape) + " has a dimension too large");
        const auto v = d.get<int64_t>();
        if (v < 0) throw fail("'shape' " + json_excerpt(shape) + " has a negative dimension");
        info.shape.push_back(v);
    }

    const auto& offs = j["data_offsets"];
    if (!offs.is_array() || offs.size() != 2 || !offs[0].is_number_unsigned() || !offs[1].is_number_unsigned())
        throw fail("'data_offsets' is not a pair of non-negative integers");
    info.begin = offs[0].get<uint64_t>();
    info.end = offs[1].get<uint64_t>();
    if (info.end < info.begin)
        throw fail("'data_offsets' [" + std::to_string(info.begin) + ", " + std::to_string(info.end) +
                   "] end before they begin");
    if (info.end > data_size)
        throw fail("'data_offsets' [" + std::to_string(info.begin) + ", " + std::to_string(info.end) +
                   "] lie outside the data block of " + std::to_string(data_size) + " bytes");

    const auto need = checked_nbytes(info.shape, entry(info.dtype).size);
    if (!need) throw fail("shape " + shape_text(info.shape) + " is too large");
    if (*need != info.nbytes())
        throw fail(std::string(dtype_name(info.dtype)) + " x " + shape_text(info.shape) + " needs " +
                   std::to_string(*need) + " bytes but 'data_offsets' span " + std::to_string(info.nbytes()));
    return info;
}

// Parses the header JSON, refusing duplicate tensor names (nlohmann would
// silently keep the last one, hiding a corrupt or ambiguous file).
nlohmann::json parse_header(const std::string& file, std::string_view text) {
    std::set<std::string> seen;
    std::string duplicate;
    auto on_event = [&](int depth, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
        if (event == nlohmann::json::parse_event_t::key && depth == 1 && duplicate.empty()) {
            const auto key = parsed.get<std::string>();
            if (!seen.insert(key).second) duplicate = key;
        }
        return true;
    };
    nlohmann::json j;
    check_json_depth(text, file);
    try {
        j = nlohmann::json::parse(text.begin(), text.end(), on_event);
    } catch (const nlohmann::json::exception& e) {
        // parse_error, and out_of_range.406 for a number beyond a double (1e999).
        throw Error(file, std::string("header is not valid JSON: ") + e.what());
    }
    if (!j.is_object()) throw Error(file, "header is not a JSON object");
    if (!duplicate.empty()) throw Error(file, "tensor " + in_quotes(duplicate) + " is named twice in the header");
    return j;
}

std::string errno_text() { return std::strerror(errno); }

} // namespace

DType parse_dtype(const std::string& name, const std::string& where) {
    for (const auto& e : kDTypes)
        if (name == e.name) return e.dtype;
    throw Error(where, "unknown dtype " + in_quotes(name));
}

const char* dtype_name(DType dtype) { return entry(dtype).name; }
std::size_t dtype_size(DType dtype) { return entry(dtype).size; }

int64_t TensorInfo::numel() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
}

// ---- reader --------------------------------------------------------------------

std::shared_ptr<SafetensorsFile> SafetensorsFile::open(const fs::path& path) {
    const std::string file = path.string();
    std::shared_ptr<SafetensorsFile> sf(new SafetensorsFile());
    sf->path_ = file;

    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw Error(file, "cannot open file: " + errno_text());
    struct stat st{};
    if (::fstat(fd, &st) != 0) {
        const auto msg = errno_text();
        ::close(fd);
        throw Error(file, "cannot stat file: " + msg);
    }
    if (S_ISDIR(st.st_mode)) {
        ::close(fd);
        throw Error(file, "is a folder, not a safetensors file");
    }
    const auto size = static_cast<uint64_t>(st.st_size);
    if (size < 8) {
        ::close(fd);
        throw Error(file, "file is " + std::to_string(size) +
                              " bytes, shorter than the 8-byte header length; not a safetensors file");
    }
    void* map = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    const auto map_errno = errno;
    ::close(fd);  // the mapping keeps the file alive
    if (map == MAP_FAILED) throw Error(file, std::string("cannot map file: ") + std::strerror(map_errno));
    sf->map_ = static_cast<const std::byte*>(map);
    sf->map_size_ = size;

    uint64_t header_len = 0;
    std::memcpy(&header_len, sf->map_, 8);
    if (header_len > size - 8)
        throw Error(file, "header length " + std::to_string(header_len) + " exceeds the file size of " +
                              std::to_string(size) + " bytes (truncated or not a safetensors file)");
    sf->data_start_ = 8 + header_len;
    const uint64_t data_size = size - sf->data_start_;

    const auto header = parse_header(
        file, std::string_view(reinterpret_cast<const char*>(sf->map_) + 8, header_len));
    for (auto it = header.begin(); it != header.end(); ++it) {
        if (it.key() == "__metadata__") {
            if (!it->is_object()) throw Error(file, "'__metadata__' is not an object");
            for (auto m = it->begin(); m != it->end(); ++m) {
                if (!m->is_string()) throw Error(file, "'__metadata__' value " + in_quotes(m.key()) + " is not a string");
                sf->metadata_[m.key()] = m->get<std::string>();
            }
            continue;
        }
        sf->tensors_.push_back(parse_entry(file, it.key(), *it, data_size));
    }

    // Keep the file's layout order (offsets), which is also the order a
    // streaming consumer reads fastest; then refuse overlapping byte ranges.
    std::stable_sort(sf->tensors_.begin(), sf->tensors_.end(),
                     [](const TensorInfo& a, const TensorInfo& b) { return a.begin < b.begin; });
    const TensorInfo* prev = nullptr;
    for (const auto& t : sf->tensors_) {
        if (t.nbytes() == 0) continue;  // an empty tensor occupies no bytes
        if (prev && t.begin < prev->end)
            throw Error(file, "tensors " + in_quotes(prev->name) + " [" + std::to_string(prev->begin) + ", " +
                                  std::to_string(prev->end) + ") and " + in_quotes(t.name) + " [" +
                                  std::to_string(t.begin) + ", " + std::to_string(t.end) + ") overlap");
        prev = &t;
    }
    for (std::size_t i = 0; i < sf->tensors_.size(); ++i) sf->index_[sf->tensors_[i].name] = i;
    return sf;
}

SafetensorsFile::~SafetensorsFile() {
    if (map_) ::munmap(const_cast<std::byte*>(map_), map_size_);
}

const TensorInfo* SafetensorsFile::find(const std::string& name) const {
    const auto it = index_.find(name);
    return it == index_.end() ? nullptr : &tensors_[it->second];
}

TensorView SafetensorsFile::view(const std::string& name) const {
    const TensorInfo* info = find(name);
    if (!info) throw Error(path_, "tensor " + in_quotes(name) + " is missing");
    return TensorView{info, std::span<const std::byte>(map_ + data_start_ + info->begin, info->nbytes()), &path_};
}

// ---- sharded model directory ------------------------------------------------------

SafetensorsModel SafetensorsModel::open_dir(const fs::path& dir) {
    SafetensorsModel model;
    model.dir_ = dir.string();
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) throw Error(model.dir_, "model folder does not exist");

    const fs::path index_path = dir / "model.safetensors.index.json";
    const fs::path single_path = dir / "model.safetensors";
    if (!fs::exists(index_path, ec)) {
        if (!fs::exists(single_path, ec))
            throw Error(model.dir_, "no weights: neither model.safetensors nor model.safetensors.index.json");
        model.files_.push_back(SafetensorsFile::open(single_path));
        for (const auto& t : model.files_[0]->tensors()) model.where_[t.name] = 0;
        return model;
    }

    const std::string index_file = index_path.string();
    const nlohmann::json index = read_json_file(index_path);
    if (!index.is_object() || !index.contains("weight_map") || !index["weight_map"].is_object())
        throw Error(index_file, "lacks a 'weight_map' object");

    // Open each named shard once, in order of first mention.
    std::map<std::string, std::size_t> shard_slot;
    for (auto it = index["weight_map"].begin(); it != index["weight_map"].end(); ++it) {
        if (!it->is_string()) throw Error(index_file, "weight_map entry " + in_quotes(it.key()) + " is not a file name");
        const std::string shard = it->get<std::string>();
        const fs::path rel(shard);
        if (shard.empty() || rel.is_absolute() || rel.has_parent_path())
            throw Error(index_file, "weight_map entry " + in_quotes(it.key()) + " names " + in_quotes(shard) +
                                        ", which is not a file inside the model folder");
        if (shard_slot.count(shard)) continue;
        const fs::path shard_path = dir / rel;
        if (!fs::is_regular_file(shard_path, ec))
            throw Error(index_file, "shard " + in_quotes(shard) + " (holding tensor " + in_quotes(it.key()) +
                                        ") does not exist");
        shard_slot[shard] = model.files_.size();
        model.files_.push_back(SafetensorsFile::open(shard_path));
    }

    // Every tensor lives in exactly one shard.
    for (std::size_t i = 0; i < model.files_.size(); ++i)
        for (const auto& t : model.files_[i]->tensors()) {
            const auto [pos, fresh] = model.where_.emplace(t.name, i);
            if (!fresh)
                throw Error(model.dir_, "tensor " + in_quotes(t.name) + " is in both " +
                                            fs::path(model.files_[pos->second]->path()).filename().string() +
                                            " and " + fs::path(model.files_[i]->path()).filename().string());
        }
    // ...and where the index says it does.
    for (auto it = index["weight_map"].begin(); it != index["weight_map"].end(); ++it) {
        const std::size_t slot = shard_slot.at(it->get<std::string>());
        if (!model.files_[slot]->find(it.key()))
            throw Error(model.files_[slot]->path(),
                        "tensor " + in_quotes(it.key()) + " is listed in model.safetensors.index.json for this shard but is not in it");
    }
    return model;
}

bool SafetensorsModel::contains(const std::string& name) const { return where_.count(name) != 0; }

TensorView SafetensorsModel::view(const std::string& name) const {
    const auto it = where_.find(name);
    if (it == where_.end()) throw Error(dir_, "tensor " + in_quotes(name) + " is missing");
    return files_[it->second]->view(name);
}

std::vector<std::string> SafetensorsModel::names() const {
    std::vector<std::string> out;
    out.reserve(where_.size());
    for (const auto& [name, slot] : where_) out.push_back(name);
    return out;
}

uint64_t SafetensorsModel::total_bytes() const {
    uint64_t n = 0;
    for (const auto& f : files_)
        for (const auto& t : f->tensors()) n += t.nbytes();
    return n;
}

uint64_t SafetensorsModel::file_bytes() const {
    uint64_t n = 0;
    for (const auto& f : files_) n += f->file_size();
    return n;
}

// ---- writer -----------------------------------------------------------------------

void write_safetensors(const fs::path& path, const std::vector<TensorRef>& tensors,
                       const std::map<std::string, std::string>& metadata, const BytesWrittenFn& on_written) {
    const std::string file = path.string();
    nlohmann::ordered_json header = nlohmann::ordered_json::object();
    if (!metadata.empty()) {
        auto& m = header["__metadata__"] = nlohmann::ordered_json::object();
        for (const auto& [k, v] : metadata) m[k] = v;
    }
    std::set<std::string> names;
    for (const auto& t : tensors) {
        if (t.name == "__metadata__") throw Error(file, "'__metadata__' is reserved and cannot name a tensor");
        if (!names.insert(t.name).second) throw Error(file, "tensor " + in_quotes(t.name) + " is given twice");
        const auto need = checked_nbytes(t.shape, dtype_size(t.dtype));
        if (!need) throw Error(file, "tensor " + in_quotes(t.name) + ": shape " + shape_text(t.shape) +
                                         " has a negative dimension or is too large");
        if (*need != t.bytes.size())
            throw Error(file, "tensor " + in_quotes(t.name) + ": " + dtype_name(t.dtype) + " x " +
                                  shape_text(t.shape) + " needs " + std::to_string(*need) + " bytes but " +
                                  std::to_string(t.bytes.size()) + " were given");
    }
    // Largest elements first: each group's total is a multiple of its element
    // size, so every tensor starts aligned (the data block itself is 8-aligned).
    std::vector<const TensorRef*> order;
    for (const auto& t : tensors) order.push_back(&t);
    std::stable_sort(order.begin(), order.end(), [](const TensorRef* a, const TensorRef* b) {
        return dtype_size(a->dtype) > dtype_size(b->dtype);
    });
    uint64_t offset = 0;
    for (const TensorRef* t : order) {
        header[t->name] = {{"dtype", dtype_name(t->dtype)},
                           {"shape", t->shape},
                           {"data_offsets", {offset, offset + t->bytes.size()}}};
        offset += t->bytes.size();
    }
    std::string text = header.dump();
    // Pad with spaces so the data block starts 8-byte aligned (8 + len(text)).
    text.append((8 - text.size() % 8) % 8, ' ');
    const uint64_t header_len = text.size();

    AtomicFile out(path);
    out.write(&header_len, sizeof header_len);
    out.write(text);
    const uint64_t total = sizeof header_len + header_len + offset;
    uint64_t written = sizeof header_len + header_len;
    for (const TensorRef* t : order) {
        out.write(t->bytes.data(), t->bytes.size());  // straight from the caller's memory
        written += t->bytes.size();
        if (on_written) on_written(written, total);
    }
    out.commit();
}

void write_safetensors(const fs::path& path, const std::vector<TensorData>& tensors,
                       const std::map<std::string, std::string>& metadata) {
    std::vector<TensorRef> refs;
    refs.reserve(tensors.size());
    for (const auto& t : tensors) refs.push_back(TensorRef{t.name, t.dtype, t.shape, t.bytes});
    write_safetensors(path, refs, metadata);
}

// ---- conversions ------------------------------------------------------------------

uint16_t f32_to_bf16(float x) {
    const auto bits = std::bit_cast<uint32_t>(x);
    if (std::isnan(x)) return static_cast<uint16_t>((bits >> 16) | 0x0040);  // keep sign, force quiet
    // Round to nearest, ties to even: add 0x7fff plus the lowest kept bit.
    const uint32_t rounding = 0x7fffu + ((bits >> 16) & 1u);
    return static_cast<uint16_t>((bits + rounding) >> 16);
}

float bf16_to_f32(uint16_t x) { return std::bit_cast<float>(static_cast<uint32_t>(x) << 16); }

uint16_t f32_to_f16(float x) {
    const auto bits = std::bit_cast<uint32_t>(x);
    const uint16_t sign = static_cast<uint16_t>((bits >> 16) & 0x8000u);
    const uint32_t abs = bits & 0x7fffffffu;
    if (abs >= 0x7f800000u) {  // inf or NaN
        if (abs == 0x7f800000u) return sign | 0x7c00u;
        return static_cast<uint16_t>(sign | 0x7e00u | ((abs >> 13) & 0x03ffu));  // quiet NaN, payload kept
    }
    const int exp = static_cast<int>(abs >> 23) - 127;  // unbiased
    if (exp > 15) return sign | 0x7c00u;                 // overflows to inf
    if (exp >= -14) {
        // Normal half: 10 mantissa bits kept, 13 rounded away (RNE). A carry
        // out of the mantissa correctly bumps the exponent, up to inf.
        uint32_t h = (static_cast<uint32_t>(exp + 15) << 10) | ((abs >> 13) & 0x03ffu);
        const uint32_t rest = abs & 0x1fffu;
        if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) ++h;
        return static_cast<uint16_t>(sign | h);
    }
    if (exp < -25) return sign;  // below half the smallest subnormal: zero
    // Subnormal half: value = m * 2^-24 with the implicit bit made explicit.
    const uint32_t mant = (abs & 0x007fffffu) | 0x00800000u;
    // x = mant * 2^(exp-23) = m * 2^-24  =>  m = mant >> (-1 - exp), 14..24 bits dropped.
    const int drop = -exp - 1;
    const uint32_t m = mant >> drop;
    const uint32_t rest = mant & ((1u << drop) - 1u);
    const uint32_t half = 1u << (drop - 1);
    uint32_t h = m;
    if (rest > half || (rest == half && (h & 1u))) ++h;  // may carry into the smallest normal: correct
    return static_cast<uint16_t>(sign | h);
}

float f16_to_f32(uint16_t x) {
    const uint32_t sign = static_cast<uint32_t>(x & 0x8000u) << 16;
    const uint32_t exp = (x >> 10) & 0x1fu;
    const uint32_t mant = x & 0x03ffu;
    if (exp == 0x1f) return std::bit_cast<float>(sign | 0x7f800000u | (mant << 13));  // inf / NaN
    if (exp != 0) return std::bit_cast<float>(sign | ((exp + 112) << 23) | (mant << 13));
    // zero or subnormal: exact in f32
    const float v = std::ldexp(static_cast<float>(mant), -24);
    return sign ? -v : v;
}

} // namespace glq::io
