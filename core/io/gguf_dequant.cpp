// Block decoders for the ggml types. Each mirrors the numpy code of
// gguf-py's quants.py (the ground truth the tests compare against bit for
// bit): the fp16 scale is widened to f32, integer codes are converted to f32,
// and every product and sum is a separate f32 operation in the same order.
// The build uses ISO C++ (-std=c++20), under which GCC does not contract
// a*b+c into an FMA, so the rounding matches numpy's.

#include "core/io/gguf_dequant.h"

#include <bit>
#include <cstring>
#include <string>

#include "core/common/error.h"
#include "core/io/safetensors.h"

namespace glq::io {

namespace {

constexpr int kQK = 32;    // elements per block of the legacy types
constexpr int kQK_K = 256;  // elements per super-block of the k-quants

inline uint8_t byte_at(const std::byte* p, int i) { return static_cast<uint8_t>(p[i]); }

inline float half_at(const std::byte* p) {
    uint16_t h;
    std::memcpy(&h, p, 2);
    return f16_to_f32(h);
}

// Q4_0: d (f16), 16 bytes of nibbles; low nibbles are elements 0..15, high 16..31.
void q4_0_block(const std::byte* b, float* out) {
    const float d = half_at(b);
    const std::byte* qs = b + 2;
    for (int j = 0; j < kQK / 2; ++j) {
        out[j] = d * static_cast<float>(static_cast<int>(byte_at(qs, j) & 0x0F) - 8);
        out[j + kQK / 2] = d * static_cast<float>(static_cast<int>(byte_at(qs, j) >> 4) - 8);
    }
}

// Q4_1: d, m (f16), nibbles; x = d*q + m.
void q4_1_block(const std::byte* b, float* out) {
    const float d = half_at(b);
    const float m = half_at(b + 2);
    const std::byte* qs = b + 4;
    for (int j = 0; j < kQK / 2; ++j) {
        out[j] = d * static_cast<float>(byte_at(qs, j) & 0x0F) + m;
        out[j + kQK / 2] = d * static_cast<float>(byte_at(qs, j) >> 4) + m;
    }
}

// Q5_0/Q5_1: bit j of the little-endian u32 qh is the fifth bit of element j.
inline uint32_t u32_at(const std::byte* p) {
    uint32_t v;
    std::memcpy(&v, p, 4);
    return v;
}

void q5_0_block(const std::byte* b, float* out) {
    const float d = half_at(b);
    const uint32_t qh = u32_at(b + 2);
    const std::byte* qs = b + 6;
    for (int j = 0; j < kQK; ++j) {
        const int low = j < kQK / 2 ? (byte_at(qs, j) & 0x0F) : (byte_at(qs, j - kQK / 2) >> 4);
        const int q = low | static_cast<int>(((qh >> j) & 1u) << 4);
        out[j] = d * static_cast<float>(q - 16);
    }
}

void q5_1_block(const std::byte* b, float* out) {
    const float d = half_at(b);
    const float m = half_at(b + 2);
    const uint32_t qh = u32_at(b + 4);
    const std::byte* qs = b + 8;
    for (int j = 0; j < kQK; ++j) {
        const int low = j < kQK / 2 ? (byte_at(qs, j) & 0x0F) : (byte_at(qs, j - kQK / 2) >> 4);
        const int q = low | static_cast<int>(((qh >> j) & 1u) << 4);
        out[j] = d * static_cast<float>(q) + m;
    }
}

// Q8_0: d (f16), 32 signed bytes; x = q * d.
void q8_0_block(const std::byte* b, float* out) {
    const float d = half_at(b);
    for (int j = 0; j < kQK; ++j) out[j] = static_cast<float>(static_cast<int8_t>(byte_at(b + 2, j))) * d;
}

// The 12 packed bytes of Q4_K/Q5_K hold 8 six-bit scales and 8 six-bit mins
// (gguf-py Q4_K.get_scale_min).
void k_scale_min(const std::byte* s, uint8_t sc[8], uint8_t mn[8]) {
    for (int i = 0; i < 4; ++i) {
        const uint8_t d = byte_at(s, i), m = byte_at(s, 4 + i), md = byte_at(s, 8 + i);
        sc[i] = d & 0x3F;
        mn[i] = m & 0x3F;
        sc[4 + i] = static_cast<uint8_t>((md & 0x0F) | ((d >> 2) & 0x30));
        mn[4 + i] = static_cast<uint8_t>((md >> 4) | ((m >> 2) & 0x30));
    }
}

// Q4_K: d, dmin (f16), 12 scale bytes, 128 nibble bytes. Sub-block s (32
// elements) takes nibble half s%2 of bytes 32*(s/2) .. +31; x = (d*sc)*q - dmin*m.
void q4_k_block(const std::byte* b, float* out) {
    const float d = half_at(b);
    const float dmin = half_at(b + 2);
    uint8_t sc[8], mn[8];
    k_scale_min(b + 4, sc, mn);
    const std::byte* qs = b + 16;
    for (int s = 0; s < 8; ++s) {
        const float ds = d * static_cast<float>(sc[s]);
        const float ms = dmin * static_cast<float>(mn[s]);
        const int shift = 4 * (s % 2);
        for (int l = 0; l < 32; ++l) {
            const int q = (byte_at(qs, 32 * (s / 2) + l) >> shift) & 0x0F;
            out[32 * s + l] = ds * static_cast<float>(q) - ms;
        }
    }
}

// Q5_K: as Q4_K plus 32 bytes qh; bit s of qh[l] is the fifth bit of element l of sub-block s.
void q5_k_block(const std::byte* b, float* out) {
    const float d = half_at(b);
    const float dmin = half_at(b + 2);
    uint8_t sc[8], mn[8];
    k_scale_min(b + 4, sc, mn);
    const std::byte* qh = b + 16;
    const std::byte* qs = b + 48;
    for (int s = 0; s < 8; ++s) {
        const float ds = d * static_cast<float>(sc[s]);
        const float ms = dmin * static_cast<float>(mn[s]);
        const int shift = 4 * (s % 2);
        for (int l = 0; l < 32; ++l) {
            const int low = (byte_at(qs, 32 * (s / 2) + l) >> shift) & 0x0F;
            const int high = (byte_at(qh, l) >> s) & 1;
            out[32 * s + l] = ds * static_cast<float>(low | (high << 4)) - ms;
        }
    }
}

// Q6_K: 128 bytes ql, 64 bytes qh, 16 int8 scales, d (f16). Element e of the
// 256: half c = e/128; its low nibble is nibble (e%128)/64 of ql[64c + e%64],
// its two high bits are bits 2*((e%128)/32) of qh[32c + e%32]; x = (d*scale[e/16]) * (q-32).
void q6_k_block(const std::byte* b, float* out) {
    const std::byte* ql = b;
    const std::byte* qh = b + 128;
    const std::byte* scales = b + 192;
    const float d = half_at(b + 208);
    float ds[16];
    for (int i = 0; i < 16; ++i) ds[i] = d * static_cast<float>(static_cast<int8_t>(byte_at(scales, i)));
    for (int e = 0; e < kQK_K; ++e) {
        const int c = e / 128, r = e % 128;
        const int low = (byte_at(ql, 64 * c + r % 64) >> (4 * (r / 64))) & 0x0F;
        const int high = (byte_at(qh, 32 * c + r % 32) >> (2 * (r / 32))) & 0x03;
        out[e] = ds[e / 16] * static_cast<float>((low | (high << 4)) - 32);
    }
}

using BlockFn = void (*)(const std::byte*, float*);

BlockFn block_decoder(GgmlType type) {
    switch (type) {
        case GgmlType::Q4_0: return q4_0_block;
        case GgmlType::Q4_1: return q4_1_block;
        case GgmlType::Q5_0: return q5_0_block;
        case GgmlType::Q5_1: return q5_1_block;
        case GgmlType::Q8_0: return q8_0_block;
        case GgmlType::Q4_K: return q4_k_block;
        case GgmlType::Q5_K: return q5_k_block;
        case GgmlType::Q6_K: return q6_k_block;
        default: return nullptr;
    }
}

} // namespace

bool can_dequantize(GgmlType type) {
    return type == GgmlType::F32 || type == GgmlType::F16 || type == GgmlType::BF16 || block_decoder(type) != nullptr;
}

uint64_t ggml_nbytes(GgmlType type, int64_t numel) {
    const GgmlTypeInfo* info = ggml_type_info(static_cast<uint32_t>(type));
    if (!info) throw Error("dequantize", "unknown ggml type " + std::to_string(static_cast<uint32_t>(type)));
    if (numel < 0 || numel % info->block_size != 0)
        throw Error("dequantize", std::to_string(numel) + " elements are not a whole number of " + info->name +
                                      " blocks of " + std::to_string(info->block_size));
    return static_cast<uint64_t>(numel / info->block_size) * static_cast<uint64_t>(info->type_size);
}

void dequantize(GgmlType type, std::span<const std::byte> src, std::span<float> dst) {
    if (!can_dequantize(type))
        throw Error("dequantize", std::string("ggml type ") + ggml_type_name(type) + " is not supported");
    const int64_t numel = static_cast<int64_t>(dst.size());
    const uint64_t expected = ggml_nbytes(type, numel);
    if (src.size() != expected)
        throw Error("dequantize", std::string(ggml_type_name(type)) + " data of " + std::to_string(src.size()) +
                                      " bytes for " + std::to_string(numel) + " elements (expected " +
                                      std::to_string(expected) + ")");
    switch (type) {
        case GgmlType::F32:
            // A zero-element tensor has no buffer: memcpy(nullptr, ..., 0) is undefined.
            if (!src.empty()) std::memcpy(dst.data(), src.data(), src.size());
            return;
        case GgmlType::F16:
        case GgmlType::BF16:
            for (int64_t i = 0; i < numel; ++i) {
                uint16_t h;
                std::memcpy(&h, src.data() + 2 * i, 2);
                dst[static_cast<std::size_t>(i)] = type == GgmlType::F16 ? f16_to_f32(h) : bf16_to_f32(h);
            }
            return;
        default: break;
    }
    const GgmlTypeInfo* info = ggml_type_info(static_cast<uint32_t>(type));
    const BlockFn decode = block_decoder(type);
    const int64_t blocks = numel / info->block_size;
    for (int64_t i = 0; i < blocks; ++i)
        decode(src.data() + i * info->type_size, dst.data() + i * info->block_size);
}

} // namespace glq::io
