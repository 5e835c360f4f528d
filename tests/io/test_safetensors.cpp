// safetensors reader/writer: round trips of every dtype, the shared stories260K
// model, sharded folders, every malformed-header case, and write failures that
// must leave no file behind.

#include <bit>
#include <cmath>
#include <csignal>
#include <cstring>
#include <fstream>
#include <random>

#include <sys/mount.h>
#include <sys/resource.h>
#include <unistd.h>

#include "core/common/error.h"
#include "core/io/safetensors.h"
#include "tests/support/test.h"

namespace fs = std::filesystem;
using namespace glq::io;

namespace {

std::vector<std::byte> pattern_bytes(std::size_t n, unsigned seed) {
    std::mt19937 rng(seed);
    std::vector<std::byte> out(n);
    for (auto& b : out) b = static_cast<std::byte>(rng() & 0xff);
    return out;
}

// A safetensors file written by hand: length prefix, header text, data bytes.
fs::path write_raw(const std::string& name, uint64_t header_len, const std::string& header,
                   std::size_t data_bytes) {
    const fs::path p = glq::test::temp_dir() / name;
    std::ofstream out(p, std::ios::binary);
    out.write(reinterpret_cast<const char*>(&header_len), 8);
    out << header;
    out << std::string(data_bytes, '\0');
    return p;
}
fs::path write_raw(const std::string& name, const std::string& header, std::size_t data_bytes) {
    return write_raw(name, header.size(), header, data_bytes);
}

std::size_t files_in(const fs::path& dir) {
    std::size_t n = 0;
    for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir)) ++n;
    return n;
}

const DType kAllDTypes[] = {DType::BOOL, DType::U8,  DType::I8,  DType::U16,  DType::I16,
                            DType::U32,  DType::I32, DType::U64, DType::I64,  DType::F16,
                            DType::BF16, DType::F32, DType::F64, DType::F8_E4M3, DType::F8_E5M2};

} // namespace

GLQ_TEST(dtype_names_and_sizes) {
    for (DType d : kAllDTypes) CHECK(parse_dtype(dtype_name(d), "x") == d);
    CHECK_EQ(dtype_size(DType::BF16), 2u);
    CHECK_EQ(dtype_size(DType::F64), 8u);
    CHECK_EQ(dtype_size(DType::F8_E5M2), 1u);
    CHECK_EQ(dtype_size(DType::BOOL), 1u);
    CHECK_EQ(std::string(dtype_name(DType::F8_E4M3)), std::string("F8_E4M3"));
    CHECK_THROWS_WITH(parse_dtype("F4", "model.safetensors"), "model.safetensors: unknown dtype 'F4'");
}

GLQ_TEST(round_trip_every_dtype_with_metadata) {
    std::vector<TensorData> tensors;
    unsigned seed = 1;
    for (DType d : kAllDTypes) {
        TensorData t;
        t.name = std::string("layer.") + dtype_name(d);
        t.dtype = d;
        t.shape = {3, static_cast<int64_t>(seed % 4 + 1), 5};
        t.bytes = pattern_bytes(3 * (seed % 4 + 1) * 5 * dtype_size(d), seed);
        tensors.push_back(std::move(t));
        ++seed;
    }
    tensors.push_back(TensorData{"scalar", DType::F32, {}, pattern_bytes(4, 99)});
    tensors.push_back(TensorData{"empty", DType::BF16, {0, 7}, {}});
    const std::map<std::string, std::string> meta{{"format", "pt"}, {"note", "unicode \xc3\xa9 ok"}};
    const fs::path p = glq::test::temp_dir() / "all.safetensors";
    write_safetensors(p, tensors, meta);

    const auto f = SafetensorsFile::open(p);
    CHECK_EQ(f->tensors().size(), tensors.size());
    CHECK(f->metadata() == meta);
    CHECK_EQ(f->header_size() % 8, 0u);  // 8-byte aligned data block
    for (const auto& t : tensors) {
        const auto v = f->view(t.name);
        CHECK(v.info->dtype == t.dtype);
        CHECK(v.info->shape == t.shape);
        CHECK_EQ(v.bytes.size(), t.bytes.size());
        CHECK(std::equal(v.bytes.begin(), v.bytes.end(), t.bytes.begin()));
        CHECK_EQ(*v.file, p.string());
    }
    // Contiguous (the format allows no gaps), largest elements first, given
    // order within a size, and so each tensor aligned to its element size.
    uint64_t expect_begin = 0;
    std::size_t prev_size = 8;
    std::vector<std::string> names_in_file;
    for (const auto& t : f->tensors()) {
        CHECK_EQ(t.begin, expect_begin);
        expect_begin = t.end;
        CHECK(dtype_size(t.dtype) <= prev_size);
        prev_size = dtype_size(t.dtype);
        CHECK_EQ((f->header_size() + t.begin) % dtype_size(t.dtype), 0u);
        names_in_file.push_back(t.name);
    }
    CHECK_EQ(expect_begin, fs::file_size(p) - f->header_size());
    std::vector<std::string> expect_names;
    for (std::size_t size : {8, 4, 2, 1})
        for (const auto& t : tensors)
            if (dtype_size(t.dtype) == size) expect_names.push_back(t.name);
    CHECK(names_in_file == expect_names);
    CHECK_EQ(f->find("scalar")->numel(), 1);
    CHECK_EQ(f->find("empty")->numel(), 0);
    CHECK(f->find("nope") == nullptr);
    CHECK_THROWS_WITH(f->view("nope"), "all.safetensors: tensor 'nope' is missing");
}

GLQ_TEST(writer_header_is_space_padded_json) {
    const fs::path p = glq::test::temp_dir() / "pad.safetensors";
    const std::vector<float> vals{1.0f, 2.0f, 3.0f};
    write_safetensors(p, std::vector<TensorRef>{{"a", DType::F32, {3}, std::as_bytes(std::span(vals))}});
    std::ifstream in(p, std::ios::binary);
    uint64_t n = 0;
    in.read(reinterpret_cast<char*>(&n), 8);
    std::string header(n, '\0');
    in.read(header.data(), static_cast<std::streamsize>(n));
    CHECK_EQ(n % 8, 0u);
    CHECK_EQ(header.front(), '{');
    const auto close = header.find_last_not_of(' ');
    CHECK_EQ(header[close], '}');
    CHECK(n - close - 1 < 8);
    CHECK(!glq::test::contains(header, "__metadata__"));  // omitted when empty
    CHECK_EQ(fs::file_size(p), 8 + n + 12);
}

GLQ_TEST(reads_stories260k) {
    const fs::path p = glq::test::shared_data() / "models/stories260K/model.safetensors";
    const auto f = SafetensorsFile::open(p);
    CHECK_EQ(f->tensors().size(), 47u);  // embeddings, final norm, 5 layers x 9
    const auto emb = f->view("model.embed_tokens.weight");
    CHECK(emb.info->dtype == DType::F32);
    CHECK(emb.info->shape == (std::vector<int64_t>{512, 64}));
    const float* e = reinterpret_cast<const float*>(emb.bytes.data());
    // Values as read by the Python safetensors package.
    CHECK_NEAR(e[0], -0.29474878, 1e-7);
    CHECK_NEAR(e[2], 0.17542253, 1e-7);
    CHECK_NEAR(e[511 * 64 + 63], -0.4240326, 1e-7);
    double sum = 0;
    for (int64_t i = 0; i < emb.info->numel(); ++i) sum += e[i];
    CHECK_NEAR(sum, -752.3677446640068, 1e-6);
    CHECK(f->find("model.layers.4.self_attn.k_proj.weight")->shape == (std::vector<int64_t>{32, 64}));
    CHECK(f->find("model.layers.0.mlp.down_proj.weight")->shape == (std::vector<int64_t>{64, 172}));

    const auto m = SafetensorsModel::open_dir(p.parent_path());
    CHECK_EQ(m.names().size(), 47u);
    CHECK(m.contains("model.norm.weight"));
    CHECK_EQ(m.file_bytes(), fs::file_size(p));
    CHECK_THROWS_WITH(m.view("lm_head.weight"), "tensor 'lm_head.weight' is missing");
}

// ---- sharded folders ---------------------------------------------------------------

namespace {

fs::path make_sharded(const std::string& name, const std::string& index_json) {
    const fs::path dir = glq::test::temp_dir() / name;
    fs::create_directories(dir);
    write_safetensors(dir / "model-00001-of-00002.safetensors",
                      std::vector<TensorData>{{"a", DType::F32, {2}, pattern_bytes(8, 1)},
                                              {"b", DType::BF16, {4}, pattern_bytes(8, 2)}});
    write_safetensors(dir / "model-00002-of-00002.safetensors",
                      std::vector<TensorData>{{"c", DType::I64, {1}, pattern_bytes(8, 3)}});
    std::ofstream(dir / "model.safetensors.index.json") << index_json;
    return dir;
}

const char* kGoodIndex = R"({"metadata": {"total_size": 24}, "weight_map": {
    "a": "model-00001-of-00002.safetensors", "b": "model-00001-of-00002.safetensors",
    "c": "model-00002-of-00002.safetensors"}})";

} // namespace

GLQ_TEST(sharded_dir) {
    const fs::path dir = make_sharded("sharded", kGoodIndex);
    const auto m = SafetensorsModel::open_dir(dir);
    CHECK_EQ(m.files().size(), 2u);
    CHECK(m.names() == (std::vector<std::string>{"a", "b", "c"}));
    CHECK_EQ(m.total_bytes(), 24u);
    const auto c = m.view("c");
    CHECK(c.info->dtype == DType::I64);
    CHECK(glq::test::contains(*c.file, "model-00002-of-00002.safetensors"));
    const auto want = pattern_bytes(8, 3);
    CHECK(std::equal(c.bytes.begin(), c.bytes.end(), want.begin()));
}

GLQ_TEST(sharded_dir_errors) {
    CHECK_THROWS_WITH(SafetensorsModel::open_dir(glq::test::temp_dir() / "no-such-dir"),
                      "model folder does not exist");
    fs::create_directories(glq::test::temp_dir() / "empty-model");
    CHECK_THROWS_WITH(SafetensorsModel::open_dir(glq::test::temp_dir() / "empty-model"),
                      "neither model.safetensors nor model.safetensors.index.json");

    const auto missing = make_sharded("missing-shard", R"({"weight_map": {
        "a": "model-00001-of-00002.safetensors", "c": "model-00003-of-00003.safetensors"}})");
    CHECK_THROWS_WITH(SafetensorsModel::open_dir(missing),
                      "model.safetensors.index.json: shard 'model-00003-of-00003.safetensors' (holding tensor 'c') does not exist");

    const auto wrong = make_sharded("wrong-shard", R"({"weight_map": {
        "a": "model-00001-of-00002.safetensors", "c": "model-00001-of-00002.safetensors"}})");
    CHECK_THROWS_WITH(SafetensorsModel::open_dir(wrong),
                      "model-00001-of-00002.safetensors: tensor 'c' is listed in model.safetensors.index.json "
                      "for this shard but is not in it");

    const auto escape = make_sharded("escaping-shard", R"({"weight_map": {"a": "../x.safetensors"}})");
    CHECK_THROWS_WITH(SafetensorsModel::open_dir(escape), "not a file inside the model folder");

    const auto no_map = make_sharded("no-weight-map", R"({"metadata": {}})");
    CHECK_THROWS_WITH(SafetensorsModel::open_dir(no_map), "model.safetensors.index.json: lacks a 'weight_map' object");

    const auto bad_json = make_sharded("bad-index-json", R"({"weight_map": )");
    CHECK_THROWS_WITH(SafetensorsModel::open_dir(bad_json), "model.safetensors.index.json: not valid JSON");

    const auto twice = make_sharded("tensor-in-two-shards", kGoodIndex);
    write_safetensors(twice / "model-00002-of-00002.safetensors",
                      std::vector<TensorData>{{"c", DType::I64, {1}, pattern_bytes(8, 3)},
                                              {"a", DType::F32, {2}, pattern_bytes(8, 1)}});
    CHECK_THROWS_WITH(SafetensorsModel::open_dir(twice),
                      "tensor 'a' is in both model-00001-of-00002.safetensors and model-00002-of-00002.safetensors");
}

// ---- malformed files ------------------------------------------------------------------

GLQ_TEST(rejects_file_shorter_than_8_bytes) {
    const fs::path p = glq::test::temp_dir() / "short.safetensors";
    std::ofstream(p, std::ios::binary) << "abc";
    CHECK_THROWS_WITH(SafetensorsFile::open(p), "short.safetensors: file is 3 bytes, shorter than the 8-byte header length");
    CHECK_THROWS_WITH(SafetensorsFile::open(glq::test::temp_dir() / "absent.safetensors"),
                      "absent.safetensors: cannot open file: No such file or directory");
}

GLQ_TEST(rejects_header_length_beyond_file) {
    const auto p = write_raw("long-header.safetensors", 1000, "{}", 0);
    CHECK_THROWS_WITH(SafetensorsFile::open(p),
                      "long-header.safetensors: header length 1000 exceeds the file size of 10 bytes");
    // A huge length must not wrap around when added to 8.
    const auto q = write_raw("huge-header.safetensors", ~uint64_t(0), "{}", 0);
    CHECK_THROWS_WITH(SafetensorsFile::open(q), "exceeds the file size");
}

GLQ_TEST(rejects_bad_json_and_non_objects) {
    CHECK_THROWS_WITH(SafetensorsFile::open(write_raw("badjson.safetensors", R"({"a": {"dtype": )", 0)),
                      "badjson.safetensors: header is not valid JSON");
    CHECK_THROWS_WITH(SafetensorsFile::open(write_raw("array.safetensors", "[1, 2]", 0)),
                      "array.safetensors: header is not a JSON object");
    CHECK_THROWS_WITH(SafetensorsFile::open(write_raw("entry.safetensors", R"({"w": 5})", 0)),
                      "entry.safetensors: tensor 'w': header entry is not an object");
    CHECK_THROWS_WITH(SafetensorsFile::open(write_raw("nokey.safetensors", R"({"w": {"dtype": "F32", "shape": [1]}})", 4)),
                      "nokey.safetensors: tensor 'w': header entry lacks 'data_offsets'");
    CHECK_THROWS_WITH(SafetensorsFile::open(write_raw("meta.safetensors", R"({"__metadata__": {"k": 1}})", 0)),
                      "meta.safetensors: '__metadata__' value 'k' is not a string");
}

GLQ_TEST(rejects_unknown_dtype) {
    const auto p = write_raw("dtype.safetensors", R"({"w": {"dtype": "F4", "shape": [2], "data_offsets": [0, 1]}})", 1);
    CHECK_THROWS_WITH(SafetensorsFile::open(p), "dtype.safetensors: tensor 'w': unknown dtype 'F4'");
}

GLQ_TEST(rejects_negative_dims) {
    const auto p = write_raw("neg.safetensors", R"({"w": {"dtype": "F32", "shape": [2, -1], "data_offsets": [0, 8]}})", 8);
    CHECK_THROWS_WITH(SafetensorsFile::open(p), "neg.safetensors: tensor 'w': 'shape' [2,-1] has a negative dimension");
}

GLQ_TEST(rejects_size_mismatch) {
    const auto p = write_raw("size.safetensors", R"({"w": {"dtype": "BF16", "shape": [2, 3], "data_offsets": [0, 8]}})", 8);
    CHECK_THROWS_WITH(SafetensorsFile::open(p),
                      "size.safetensors: tensor 'w': BF16 x [2, 3] needs 12 bytes but 'data_offsets' span 8");
    // A shape whose byte count overflows 64 bits is refused, not wrapped.
    const auto q = write_raw("overflow.safetensors",
                             R"({"w": {"dtype": "F64", "shape": [4294967296, 4294967296], "data_offsets": [0, 0]}})", 0);
    CHECK_THROWS_WITH(SafetensorsFile::open(q), "overflow.safetensors: tensor 'w': shape [4294967296, 4294967296] is too large");
}

GLQ_TEST(rejects_offsets_outside_data) {
    const auto p = write_raw("outside.safetensors", R"({"w": {"dtype": "F32", "shape": [4], "data_offsets": [8, 24]}})", 16);
    CHECK_THROWS_WITH(SafetensorsFile::open(p),
                      "outside.safetensors: tensor 'w': 'data_offsets' [8, 24] lie outside the data block of 16 bytes");
    const auto q = write_raw("reversed.safetensors", R"({"w": {"dtype": "F32", "shape": [0], "data_offsets": [8, 4]}})", 16);
    CHECK_THROWS_WITH(SafetensorsFile::open(q), "reversed.safetensors: tensor 'w': 'data_offsets' [8, 4] end before they begin");
}

GLQ_TEST(rejects_overlapping_tensors) {
    const auto p = write_raw("overlap.safetensors",
                             R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                                 "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}})", 12);
    CHECK_THROWS_WITH(SafetensorsFile::open(p), "overlap.safetensors: tensors 'a' [0, 8) and 'b' [4, 12) overlap");
    // Listed out of order: the later tensor in the header comes first in the data.
    const auto q = write_raw("overlap2.safetensors",
                             R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [8, 16]},
                                 "b": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
                                 "c": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}})", 16);
    CHECK_THROWS_WITH(SafetensorsFile::open(q), "overlap2.safetensors: tensors 'c' [4, 12) and 'a' [8, 16) overlap");
    // Out of order but disjoint is fine, and so is an empty tensor anywhere.
    const auto r = write_raw("disjoint.safetensors",
                             R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [8, 16]},
                                 "z": {"dtype": "F32", "shape": [0], "data_offsets": [10, 10]},
                                 "b": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}})", 16);
    const auto f = SafetensorsFile::open(r);
    CHECK_EQ(f->tensors().front().name, std::string("b"));
}

GLQ_TEST(rejects_duplicate_names) {
    const auto p = write_raw("dup.safetensors",
                             R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
                                 "a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}})", 8);
    CHECK_THROWS_WITH(SafetensorsFile::open(p), "dup.safetensors: tensor 'a' is named twice in the header");
}

// ---- writer failures: no file left behind ----------------------------------------

GLQ_TEST(writer_rejects_bad_tensors_without_leaving_files) {
    const fs::path dir = glq::test::temp_dir() / "writer-bad";
    fs::create_directories(dir);
    CHECK_THROWS_WITH(write_safetensors(dir / "x.safetensors",
                                        std::vector<TensorData>{{"w", DType::F32, {3}, pattern_bytes(8, 1)}}),
                      "x.safetensors: tensor 'w': F32 x [3] needs 12 bytes but 8 were given");
    CHECK_THROWS_WITH(write_safetensors(dir / "x.safetensors",
                                        std::vector<TensorData>{{"w", DType::F32, {1}, pattern_bytes(4, 1)},
                                                                {"w", DType::F32, {1}, pattern_bytes(4, 1)}}),
                      "x.safetensors: tensor 'w' is given twice");
    CHECK_THROWS_WITH(write_safetensors(dir / "x.safetensors",
                                        std::vector<TensorData>{{"w", DType::F32, {-1}, {}}}),
                      "tensor 'w': shape [-1] has a negative dimension");
    CHECK_THROWS_WITH(write_safetensors(dir / "x.safetensors",
                                        std::vector<TensorData>{{"__metadata__", DType::U8, {0}, {}}}),
                      "'__metadata__' is reserved");
    CHECK_EQ(files_in(dir), 0u);
}

GLQ_TEST(writer_into_missing_folder_fails_cleanly) {
    const fs::path p = glq::test::temp_dir() / "no-such-folder" / "m.safetensors";
    CHECK_THROWS_WITH(write_safetensors(p, std::vector<TensorData>{{"w", DType::U8, {1}, pattern_bytes(1, 1)}}),
                      "no-such-folder/m.safetensors: cannot create file");
    CHECK(!fs::exists(p.parent_path()));
}

// RLIMIT_FSIZE makes write(2) fail with EFBIG part way through, exactly like a
// disk filling up mid-tensor; it needs no privileges.
GLQ_TEST(writer_failing_mid_write_leaves_no_file) {
    const fs::path dir = glq::test::temp_dir() / "fsize";
    fs::create_directories(dir);
    // An existing file must survive a failed overwrite untouched.
    write_safetensors(dir / "m.safetensors", std::vector<TensorData>{{"old", DType::U8, {1}, pattern_bytes(1, 7)}});
    const auto before = fs::file_size(dir / "m.safetensors");

    const auto big = pattern_bytes(4 << 20, 5);
    rlimit old_limit{};
    getrlimit(RLIMIT_FSIZE, &old_limit);
    auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
    rlimit small = old_limit;
    small.rlim_cur = 1 << 20;
    setrlimit(RLIMIT_FSIZE, &small);
    std::string message;
    try {
        write_safetensors(dir / "m.safetensors",
                          std::vector<TensorRef>{{"big", DType::U8, {int64_t(big.size())}, big}});
    } catch (const glq::Error& e) {
        message = e.what();
    }
    setrlimit(RLIMIT_FSIZE, &old_limit);
    std::signal(SIGXFSZ, old_handler);
    CHECK_MSG(glq::test::contains(message, "m.safetensors: write failed: File too large"), message);
    CHECK_EQ(files_in(dir), 1u);  // no temporary left
    CHECK_EQ(fs::file_size(dir / "m.safetensors"), before);
    CHECK(SafetensorsFile::open(dir / "m.safetensors")->find("old") != nullptr);
}

// A real full disk (a 256 KiB tmpfs) and a folder that becomes read-only
// (remounted ro: root ignores permission bits, so chmod would not do).
// Needs CAP_SYS_ADMIN; skipped where mounting is not allowed.
GLQ_TEST(writer_on_full_or_readonly_tmpfs_leaves_no_file) {
    const fs::path mnt = glq::test::temp_dir() / "tmpfs";
    fs::create_directories(mnt);
    if (::mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=256k") != 0)
        SKIP(std::string("cannot mount a tmpfs here (") + std::strerror(errno) + ")");
    struct Unmount {
        fs::path p;
        ~Unmount() { ::umount2(p.c_str(), MNT_DETACH); }
    } unmount{mnt};

    const auto big = pattern_bytes(1 << 20, 9);
    CHECK_THROWS_WITH(write_safetensors(mnt / "full.safetensors",
                                        std::vector<TensorRef>{{"big", DType::U8, {int64_t(big.size())}, big}}),
                      "full.safetensors: write failed: No space left on device");
    CHECK_EQ(files_in(mnt), 0u);

    write_safetensors(mnt / "small.safetensors", std::vector<TensorData>{{"a", DType::U8, {4}, pattern_bytes(4, 1)}});
    CHECK(::mount("tmpfs", mnt.c_str(), "tmpfs", MS_REMOUNT | MS_RDONLY, "size=256k") == 0);
    CHECK_THROWS_WITH(write_safetensors(mnt / "ro.safetensors",
                                        std::vector<TensorData>{{"a", DType::U8, {4}, pattern_bytes(4, 1)}}),
                      "ro.safetensors: cannot create file: Read-only file system");
    CHECK_EQ(files_in(mnt), 1u);
}

// ---- conversions -----------------------------------------------------------------

GLQ_TEST(bf16_conversions) {
    // Every non-NaN bf16 survives bf16 -> f32 -> bf16 exactly.
    for (uint32_t h = 0; h < 0x10000; ++h) {
        const float f = bf16_to_f32(static_cast<uint16_t>(h));
        if (std::isnan(f)) {
            CHECK(std::isnan(bf16_to_f32(f32_to_bf16(f))));
            continue;
        }
        CHECK_EQ(f32_to_bf16(f), static_cast<uint16_t>(h));
    }
    CHECK_EQ(f32_to_bf16(1.0f), 0x3f80);
    // Ties go to even: 1 + 2^-8 lies halfway between 1 and 1 + 2^-7.
    CHECK_EQ(f32_to_bf16(std::bit_cast<float>(0x3f808000u)), 0x3f80);
    CHECK_EQ(f32_to_bf16(std::bit_cast<float>(0x3f818000u)), 0x3f82);
    CHECK_EQ(f32_to_bf16(std::bit_cast<float>(0x3f808001u)), 0x3f81);
    CHECK_EQ(f32_to_bf16(std::numeric_limits<float>::max()), 0x7f80);  // rounds up to inf
    CHECK(std::isnan(bf16_to_f32(f32_to_bf16(std::nanf("")))));
    CHECK(std::isnan(bf16_to_f32(f32_to_bf16(std::bit_cast<float>(0x7f800001u)))));  // low-payload NaN stays NaN
    CHECK_EQ(f32_to_bf16(-0.0f), 0x8000);
}

GLQ_TEST(f16_conversions) {
    for (uint32_t h = 0; h < 0x10000; ++h) {
        const float f = f16_to_f32(static_cast<uint16_t>(h));
        if (std::isnan(f)) {
            CHECK(std::isnan(f16_to_f32(f32_to_f16(f))));
            continue;
        }
        CHECK_EQ(f32_to_f16(f), static_cast<uint16_t>(h));
    }
    CHECK_EQ(f32_to_f16(1.0f), 0x3c00);
    CHECK_EQ(f32_to_f16(65504.0f), 0x7bff);
    CHECK_EQ(f32_to_f16(65520.0f), 0x7c00);            // halfway to the next step: rounds to inf
    CHECK_NEAR(f16_to_f32(0x0001), std::ldexp(1.0, -24), 0);
    CHECK_EQ(f32_to_f16(std::ldexp(1.0f, -25)), 0x0000);  // tie with zero goes to even
    CHECK_EQ(f32_to_f16(std::ldexp(1.5f, -25)), 0x0001);
    CHECK_EQ(f32_to_f16(-std::ldexp(1.0f, -30)), 0x8000);
    // Random floats: the result is the nearest half (ties to even).
    std::mt19937 rng(42);
    std::uniform_real_distribution<float> mant(-1.0f, 1.0f);
    std::uniform_int_distribution<int> expo(-28, 17);
    for (int i = 0; i < 200000; ++i) {
        const float x = std::ldexp(mant(rng), expo(rng));
        const uint16_t h = f32_to_f16(x);
        const double got = f16_to_f32(h);
        if (std::isinf(got)) {
            CHECK_MSG(std::fabs(x) >= 65520.0f, x);
            continue;
        }
        const double err = std::fabs(got - x);
        const double up = f16_to_f32(static_cast<uint16_t>(h + 1));
        const double down = (h & 0x7fff) ? f16_to_f32(static_cast<uint16_t>(h - 1)) : got;
        CHECK_MSG(err <= std::fabs(up - x) && err <= std::fabs(down - x), "x=" << x << " h=" << h);
    }
}

// ---- interop with the Python safetensors package -------------------------------
// Driven by tests/python/test_safetensors_interop.py, which sets
// GLQ_INTEROP_DIR. Both sides build the same tensors from one rule: tensor k
// (in kAllDTypes order) is named "t_<DTYPE>", has shape [2, k + 1, 3] and
// byte i = (31 i + 17 k + 5) mod 256 (BOOL: that & 1).

namespace {

std::vector<std::byte> interop_bytes(std::size_t k, DType d) {
    const std::size_t n = 2 * (k + 1) * 3 * dtype_size(d);
    std::vector<std::byte> out(n);
    for (std::size_t i = 0; i < n; ++i) {
        auto v = static_cast<unsigned>((31 * i + 17 * k + 5) & 0xff);
        if (d == DType::BOOL) v &= 1;
        out[i] = static_cast<std::byte>(v);
    }
    return out;
}

} // namespace

GLQ_TEST(interop_with_python) {
    const std::string dir = glq::test::env("GLQ_INTEROP_DIR");
    if (dir.empty()) SKIP("run by tests/python/test_safetensors_interop.py");
    std::vector<TensorData> tensors;
    for (std::size_t k = 0; k < std::size(kAllDTypes); ++k) {
        const DType d = kAllDTypes[k];
        tensors.push_back({std::string("t_") + dtype_name(d), d, {2, int64_t(k) + 1, 3}, interop_bytes(k, d)});
    }
    // Ours, for Python to read.
    write_safetensors(fs::path(dir) / "ours.safetensors", tensors, {{"writer", "glq"}, {"format", "pt"}});
    // Theirs, written by Python with the same rule.
    const auto theirs = SafetensorsFile::open(fs::path(dir) / "theirs.safetensors");
    CHECK_EQ(theirs->tensors().size(), tensors.size());
    CHECK_EQ(theirs->metadata().at("writer"), std::string("python"));
    for (const auto& t : tensors) {
        const auto v = theirs->view(t.name);
        CHECK_MSG(v.info->dtype == t.dtype, t.name);
        CHECK_MSG(v.info->shape == t.shape, t.name);
        CHECK_MSG(std::equal(v.bytes.begin(), v.bytes.end(), t.bytes.begin(), t.bytes.end()), t.name);
    }
}
