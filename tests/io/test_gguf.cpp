// GGUF reader: a real llama.cpp file, the gguf-package fixture with every
// metadata type, files built byte by byte here (round trip, v2 and v3), and
// every kind of bad input: each must fail with one glq::Error naming the file.

#include <algorithm>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "core/common/error.h"
#include "core/io/gguf.h"
#include "tests/support/test.h"

using namespace glq::io;
namespace fs = std::filesystem;

namespace {

// Serializes a GGUF file the way the format describes, so tests can write
// both valid files and files that lie in one precise place.
class GgufBuilder {
public:
    explicit GgufBuilder(uint32_t version = 3) : version_(version) {}

    void u8(std::vector<uint8_t>& out, uint8_t v) { out.push_back(v); }
    template <typename T>
    static void put(std::vector<uint8_t>& out, T v) {
        uint8_t b[sizeof(T)];
        std::memcpy(b, &v, sizeof(T));
        out.insert(out.end(), b, b + sizeof(T));
    }
    static void str(std::vector<uint8_t>& out, const std::string& s) {
        put<uint64_t>(out, s.size());
        out.insert(out.end(), s.begin(), s.end());
    }

    // A key with a raw, already-encoded value (type + payload).
    void kv_raw(const std::string& key, uint32_t type, const std::vector<uint8_t>& payload) {
        str(kv_, key);
        put<uint32_t>(kv_, type);
        kv_.insert(kv_.end(), payload.begin(), payload.end());
        ++n_kv_;
    }
    void kv_u32(const std::string& key, uint32_t v) {
        std::vector<uint8_t> p;
        put(p, v);
        kv_raw(key, 4, p);
    }
    void kv_string(const std::string& key, const std::string& v) {
        std::vector<uint8_t> p;
        str(p, v);
        kv_raw(key, 8, p);
    }

    // A tensor with given ggml dims (innermost first), type and data bytes,
    // placed at the next aligned offset unless `offset` says otherwise.
    void tensor(const std::string& name, std::vector<uint64_t> dims, uint32_t type, std::vector<uint8_t> data,
                int64_t offset = -1) {
        while (data_.size() % alignment_) data_.push_back(0);
        const uint64_t at = offset >= 0 ? static_cast<uint64_t>(offset) : data_.size();
        str(ti_, name);
        put<uint32_t>(ti_, static_cast<uint32_t>(dims.size()));
        for (uint64_t d : dims) put<uint64_t>(ti_, d);
        put<uint32_t>(ti_, type);
        put<uint64_t>(ti_, at);
        if (offset < 0) data_.insert(data_.end(), data.begin(), data.end());
        ++n_tensors_;
    }
    void set_alignment(uint64_t a) { alignment_ = a; }

    std::vector<uint8_t> bytes(uint64_t claimed_tensors = ~0ull, uint64_t claimed_kv = ~0ull) const {
        std::vector<uint8_t> out;
        out.insert(out.end(), {'G', 'G', 'U', 'F'});
        put<uint32_t>(out, version_);
        put<uint64_t>(out, claimed_tensors == ~0ull ? n_tensors_ : claimed_tensors);
        put<uint64_t>(out, claimed_kv == ~0ull ? n_kv_ : claimed_kv);
        out.insert(out.end(), kv_.begin(), kv_.end());
        out.insert(out.end(), ti_.begin(), ti_.end());
        while (out.size() % alignment_) out.push_back(0);
        out.insert(out.end(), data_.begin(), data_.end());
        return out;
    }

private:
    uint32_t version_;
    uint64_t alignment_ = 32;
    uint64_t n_kv_ = 0, n_tensors_ = 0;
    std::vector<uint8_t> kv_, ti_, data_;
};

fs::path write_bytes(const std::vector<uint8_t>& bytes, const std::string& name = "t.gguf") {
    const fs::path p = glq::test::temp_dir() / name;
    std::ofstream(p, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()),
                                             static_cast<std::streamsize>(bytes.size()));
    return p;
}

std::vector<uint8_t> read_bytes(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::vector<uint8_t> f32_bytes(std::initializer_list<float> values) {
    std::vector<uint8_t> out;
    for (float v : values) GgufBuilder::put(out, v);
    return out;
}

// Opening `bytes` must throw a glq::Error naming the file with `message` in it.
void expect_rejected(const std::vector<uint8_t>& bytes, const std::string& message) {
    const fs::path p = write_bytes(bytes, "bad.gguf");
    bool threw = false;
    try {
        GgufFile::open(p);
    } catch (const glq::Error& e) {
        threw = true;
        CHECK_MSG(e.where() == p.string(), "error names '" << e.where() << "' instead of the file");
        CHECK_MSG(glq::test::contains(e.what(), message), "message \"" << e.what() << "\" lacks \"" << message << "\"");
    }
    CHECK_MSG(threw, "no glq::Error for input expected to fail with \"" << message << "\"");
}

GgufBuilder small_valid_file(uint32_t version = 3) {
    GgufBuilder b(version);
    b.kv_string("general.architecture", "llama");
    b.kv_u32("llama.block_count", 2);
    b.tensor("a", {3, 2}, 0, f32_bytes({1, 2, 3, 4, 5, 6}));
    b.tensor("b", {4}, 0, f32_bytes({-1, 0.5f, 7, 8}));
    return b;
}

} // namespace

GLQ_TEST(reads_llama_cpp_gpt2_vocab_file) {
    const fs::path path = glq::test::shared_data() / "models/gguf-fixtures/ggml-vocab-gpt-2.gguf";
    auto f = GgufFile::open(path);
    CHECK_EQ(f->version(), 3u);
    CHECK_EQ(f->metadata().size(), 16u);
    CHECK_EQ(f->tensors().size(), 0u);
    CHECK_EQ(f->alignment(), 32u);
    CHECK_EQ(f->get_string("general.architecture"), std::string("gpt2"));
    CHECK_EQ(f->get_string("general.name"), std::string("gpt-2"));
    CHECK_EQ(f->get_uint("gpt2.block_count"), 12u);
    CHECK_EQ(f->get_uint("gpt2.context_length"), 1024u);
    CHECK_EQ(f->get_uint("gpt2.embedding_length"), 768u);
    CHECK_EQ(f->get_uint("gpt2.feed_forward_length"), 3072u);
    CHECK_EQ(f->get_uint("gpt2.attention.head_count"), 12u);
    CHECK_EQ(f->get_float("gpt2.attention.layer_norm_epsilon"), static_cast<double>(1e-5f));
    CHECK_EQ(f->get_uint("general.file_type"), 1u);
    CHECK_EQ(f->get_string("tokenizer.ggml.model"), std::string("gpt2"));
    CHECK_EQ(f->get_string("tokenizer.ggml.pre"), std::string("gpt-2"));
    const GgufArray& tokens = f->get_array("tokenizer.ggml.tokens", GgufValueType::STRING);
    CHECK_EQ(tokens.items.size(), 50257u);
    CHECK_EQ(tokens.items[0].as_string(), std::string("!"));
    CHECK_EQ(tokens.items[2].as_string(), std::string("#"));
    CHECK_EQ(tokens.items.back().as_string(), std::string("<|endoftext|>"));
    const GgufArray& types = f->get_array("tokenizer.ggml.token_type", GgufValueType::INT32);
    CHECK_EQ(types.items.size(), 50257u);
    CHECK_EQ(types.items[0].as_int(), 1);
    CHECK_EQ(types.items.back().as_int(), 3);
    const GgufArray& merges = f->get_array("tokenizer.ggml.merges", GgufValueType::STRING);
    CHECK_EQ(merges.items.size(), 50000u);
    CHECK_EQ(merges.items[0].as_string(), std::string("\xC4\xA0 t"));
    CHECK_EQ(merges.items.back().as_string(), std::string("\xC4\xA0g azed"));
    CHECK_EQ(f->get_uint("tokenizer.ggml.bos_token_id"), 50256u);
    CHECK_EQ(f->get_uint("tokenizer.ggml.eos_token_id"), 50256u);
    // Order is the file's order.
    CHECK_EQ(f->metadata().front().first, std::string("general.architecture"));
    CHECK_EQ(f->metadata().back().first, std::string("tokenizer.ggml.eos_token_id"));
}

GLQ_TEST(reads_every_metadata_type_written_by_the_gguf_package) {
    auto f = GgufFile::open(glq::test::test_data() / "gguf/metadata.gguf");
    CHECK_EQ(f->alignment(), 64u);
    CHECK_EQ(f->data_offset() % 64, 0u);
    CHECK_EQ(f->find("test.u8")->type(), GgufValueType::UINT8);
    CHECK_EQ(f->get_int("test.u8"), 200);
    CHECK_EQ(f->get_int("test.i8"), -100);
    CHECK_EQ(f->get_int("test.u16"), 60000);
    CHECK_EQ(f->get_int("test.i16"), -30000);
    CHECK_EQ(f->get_uint("test.u32"), 4000000000u);
    CHECK_EQ(f->get_int("test.i32"), -2000000000);
    CHECK_EQ(f->find("test.u64")->as_uint(), 18000000000000000000ull);
    CHECK_THROWS_WITH(f->get_int("test.u64"), "out of range");
    CHECK_EQ(f->get_int("test.i64"), -9000000000000000000ll);
    CHECK_THROWS_WITH(f->get_uint("test.i8"), "negative");
    CHECK_EQ(f->get_float("test.f32"), static_cast<double>(0.1f));
    CHECK_EQ(f->get_float("test.f64"), 0.1);
    CHECK_EQ(f->get_bool("test.bool_true"), true);
    CHECK_EQ(f->get_bool("test.bool_false"), false);
    CHECK_EQ(f->get_string("test.string"), std::string("h\xC3\xA9llo GGUF \xE2\x9C\x93"));
    CHECK_EQ(f->get_string("test.empty_string"), std::string());
    const GgufArray& ints = f->get_array("test.array_i32", GgufValueType::INT32);
    CHECK_EQ(ints.items.size(), 3u);
    CHECK_EQ(ints.items[1].as_int(), -2);
    const GgufArray& strs = f->get_array("test.array_string", GgufValueType::STRING);
    CHECK_EQ(strs.items[2].as_string(), std::string("ccc"));
    CHECK_EQ(strs.items[1].as_string(), std::string());
    const GgufArray& nested = f->get_array("test.array_nested", GgufValueType::ARRAY);
    CHECK_EQ(nested.items.size(), 2u);
    CHECK_EQ(nested.items[0].as_array().items.size(), 2u);
    CHECK_EQ(nested.items[0].as_array().items[1].as_int(), 2);
    CHECK_EQ(nested.items[1].as_array().items[0].as_int(), 3);
    CHECK_EQ(nested.items[0].describe(), std::string("array of 2 int32"));
    // Typed getters name the file and the key on misuse.
    CHECK_THROWS_WITH(f->get_string("test.u8"), "metadata 'test.u8' is uint8, expected a string");
    CHECK_THROWS_WITH(f->get_float("test.string"), "metadata 'test.string' is string, expected a float");
    CHECK_THROWS_WITH(f->get_array("test.array_i32", GgufValueType::STRING), "expected an array of string");
    CHECK_THROWS_WITH(f->get_int("no.such.key"), "metadata 'no.such.key' is missing");
    CHECK_EQ(f->get_bool_or("no.such.key", true), true);
    CHECK(!f->get_int_opt("no.such.key").has_value());

    const GgufTensorInfo* t = f->find_tensor("small.f32");
    CHECK(t != nullptr);
    CHECK_EQ(t->type, GgmlType::F32);
    CHECK_EQ(t->shape(), (std::vector<int64_t>{2, 3}));
    CHECK_EQ(t->dims, (std::vector<int64_t>{3, 2}));
    CHECK_EQ(t->nbytes, 24u);
    auto data = f->tensor_data(*t);
    float values[6];
    std::memcpy(values, data.data(), sizeof values);
    for (int i = 0; i < 6; ++i) CHECK_EQ(values[i], static_cast<float>(i));
    const GgufTensorInfo* h = f->find_tensor("small.f16");
    CHECK(h != nullptr);
    CHECK_EQ(h->type, GgmlType::F16);
    CHECK_EQ(h->nbytes, 8u);
    CHECK_EQ((f->data_offset() + h->offset) % 64, 0u);
    CHECK(f->find_tensor("absent") == nullptr);
}

GLQ_TEST(round_trips_files_built_here_v2_and_v3) {
    for (uint32_t version : {2u, 3u}) {
        GgufBuilder b = small_valid_file(version);
        const fs::path p = write_bytes(b.bytes(), "v" + std::to_string(version) + ".gguf");
        auto f = GgufFile::open(p);
        CHECK_EQ(f->version(), version);
        CHECK_EQ(f->path(), p.string());
        CHECK_EQ(f->get_string("general.architecture"), std::string("llama"));
        CHECK_EQ(f->get_uint("llama.block_count"), 2u);
        CHECK_EQ(f->tensors().size(), 2u);
        const GgufTensorInfo& a = f->tensors()[0];
        CHECK_EQ(a.name, std::string("a"));
        CHECK_EQ(a.shape(), (std::vector<int64_t>{2, 3}));
        CHECK_EQ(a.numel(), 6);
        const GgufTensorInfo& bt = f->tensors()[1];
        CHECK_EQ(bt.offset, 32u);
        float v[4];
        std::memcpy(v, f->tensor_data(bt).data(), sizeof v);
        CHECK_EQ(v[0], -1.0f);
        CHECK_EQ(v[1], 0.5f);
        CHECK_EQ(v[3], 8.0f);
    }
}

GLQ_TEST(rejects_bad_magic_and_versions) {
    auto good = small_valid_file().bytes();
    auto bad = good;
    bad[0] = 'P';
    bad[1] = 'K';
    expect_rejected(bad, "not a GGUF file (magic bytes are 'PKUF', expected 'GGUF')");
    bad = good;
    bad[3] = 0x00;
    expect_rejected(bad, "magic bytes are 'GGU\\x00'");
    for (uint32_t v : {0u, 1u, 4u, 999u}) {
        auto b = good;
        std::memcpy(b.data() + 4, &v, 4);
        expect_rejected(b, "unsupported GGUF version " + std::to_string(v) + " (supported: 2 and 3)");
    }
    auto be = good;
    const uint32_t big_endian_3 = 0x03000000u;
    std::memcpy(be.data() + 4, &big_endian_3, 4);
    expect_rejected(be, "big-endian GGUF files are not supported");
    expect_rejected({}, "file is empty");
    expect_rejected({'G', 'G'}, "truncated");
}

GLQ_TEST(rejects_every_truncated_copy) {
    // Cut the gguf-package fixture at every length short of its last tensor's
    // end: each copy must fail cleanly (header, metadata or data cut). Cuts in
    // the writer's trailing padding leave a complete file and must be read.
    const fs::path fixture = glq::test::test_data() / "gguf/metadata.gguf";
    const auto full = read_bytes(fixture);
    uint64_t end_of_data = 0;
    {
        auto f = GgufFile::open(fixture);
        for (const auto& t : f->tensors()) end_of_data = std::max(end_of_data, f->data_offset() + t.offset + t.nbytes);
    }
    CHECK(end_of_data > 200 && end_of_data <= full.size());
    for (std::size_t n = 1; n <= full.size(); ++n) {
        const std::vector<uint8_t> cut(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(n));
        const fs::path p = write_bytes(cut, "cut.gguf");
        if (n >= end_of_data) {
            CHECK_EQ(GgufFile::open(p)->tensors().size(), 2u);
            continue;
        }
        bool threw = false;
        try {
            GgufFile::open(p);
        } catch (const glq::Error& e) {
            threw = true;
            CHECK_EQ(e.where(), p.string());
            const std::string what = e.what();
            CHECK_MSG(glq::test::contains(what, "truncated"), "cut at " << n << ": " << what);
        }
        CHECK_MSG(threw, "a copy cut to " << n << " of " << full.size() << " bytes was accepted");
    }
}

GLQ_TEST(rejects_lying_counts_and_lengths_without_allocating) {
    GgufBuilder b = small_valid_file();
    expect_rejected(b.bytes(~0ull, 1ull << 60), "absurd metadata count 1152921504606846976");
    expect_rejected(b.bytes(1ull << 58, ~0ull), "absurd tensor count 288230376151711744");

    // A string that claims to be longer than the file.
    {
        GgufBuilder s;
        std::vector<uint8_t> p;
        GgufBuilder::put<uint64_t>(p, 1ull << 62);
        p.insert(p.end(), {'x', 'y'});
        s.kv_raw("general.name", 8, p);
        expect_rejected(s.bytes(), "metadata 'general.name' needs 4611686018427387904 bytes");
    }
    // An array that claims 2^40 uint32 elements.
    {
        GgufBuilder s;
        std::vector<uint8_t> p;
        GgufBuilder::put<uint32_t>(p, 4);
        GgufBuilder::put<uint64_t>(p, 1ull << 40);
        GgufBuilder::put<uint32_t>(p, 7);
        s.kv_raw("tokenizer.ggml.token_type", 9, p);
        expect_rejected(s.bytes(), "metadata 'tokenizer.ggml.token_type' claims an array of 1099511627776 uint32");
    }
    // Arrays nested deeper than any real file.
    {
        GgufBuilder s;
        std::vector<uint8_t> p;
        for (int i = 0; i < 20; ++i) {
            GgufBuilder::put<uint32_t>(p, 9);
            GgufBuilder::put<uint64_t>(p, 1);
        }
        GgufBuilder::put<uint32_t>(p, 4);
        GgufBuilder::put<uint64_t>(p, 1);
        GgufBuilder::put<uint32_t>(p, 1);
        s.kv_raw("deep", 9, p);
        expect_rejected(s.bytes(), "nests arrays more than 8 deep");
    }
}

GLQ_TEST(rejects_bad_values_and_tensor_infos) {
    {
        GgufBuilder s;
        s.kv_raw("k", 13, {0, 0, 0, 0});
        expect_rejected(s.bytes(), "metadata 'k' has unknown value type 13");
    }
    {
        GgufBuilder s;
        s.kv_raw("flag", 7, {2});
        expect_rejected(s.bytes(), "metadata 'flag' is a bool with the invalid value 2");
    }
    {
        GgufBuilder s;
        s.kv_u32("x", 1);
        s.kv_u32("x", 2);
        expect_rejected(s.bytes(), "metadata 'x' appears twice");
    }
    {
        GgufBuilder s;
        s.kv_string("general.alignment", "32");
        expect_rejected(s.bytes(), "metadata 'general.alignment' is string, expected uint32");
    }
    {
        GgufBuilder s;
        s.kv_u32("general.alignment", 48);
        expect_rejected(s.bytes(), "metadata 'general.alignment' is 48, expected a power of two");
    }
    {
        GgufBuilder s;
        s.tensor("w", {32, 2}, 99, std::vector<uint8_t>(256));
        expect_rejected(s.bytes(), "tensor 'w' has unknown ggml type 99");
    }
    {
        GgufBuilder s;
        s.tensor("w", {1, 1, 1, 1, 1}, 0, std::vector<uint8_t>(4));
        expect_rejected(s.bytes(), "tensor 'w' has 5 dimensions (1 to 4 allowed)");
    }
    {
        GgufBuilder s;
        s.tensor("w", {1ull << 40, 1ull << 40}, 0, {});
        expect_rejected(s.bytes(), "tensor 'w' has absurd dimensions");
    }
    {
        GgufBuilder s;
        s.tensor("w", {48, 1}, 2, std::vector<uint8_t>(36));  // Q4_0 rows must be multiples of 32
        expect_rejected(s.bytes(), "tensor 'w' has rows of 48 elements, not a multiple of Q4_0's block size 32");
    }
    {
        GgufBuilder s;
        s.tensor("w", {4}, 0, f32_bytes({1, 2, 3, 4}));
        s.tensor("v", {4}, 0, {}, 16);
        expect_rejected(s.bytes(), "tensor 'v' data offset 16 is not a multiple of the alignment 32");
    }
    {
        GgufBuilder s;
        s.tensor("w", {16}, 0, std::vector<uint8_t>(64));
        s.tensor("v", {4}, 0, {}, 32);
        expect_rejected(s.bytes(), "tensors 'w' and 'v' overlap");
    }
    {
        GgufBuilder s;
        s.tensor("w", {4}, 0, f32_bytes({1, 2, 3, 4}));
        s.tensor("w", {4}, 0, f32_bytes({1, 2, 3, 4}));
        expect_rejected(s.bytes(), "tensor 'w' appears twice");
    }
    {
        // Offset far past the end: the data cannot be there.
        GgufBuilder s;
        s.tensor("w", {4}, 0, {}, 1ll << 40);
        expect_rejected(s.bytes(), "tensor 'w' data (16 bytes at offset");
        expect_rejected(s.bytes(), "lies beyond the end of the file");
    }
    {
        // Data cut short: the last tensor runs past the end.
        auto bytes = small_valid_file().bytes();
        bytes.erase(bytes.end() - 4, bytes.end());
        expect_rejected(bytes, "tensor 'b' data (16 bytes at offset");
    }
}
