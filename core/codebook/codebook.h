#pragma once
// The seam between the LDLQ sweep and a codebook. LDLQ (core/quant/ldlq.h)
// factorises the Hessian in blocks of the codebook's width and sweeps the
// weight's column strips from last to first; every codebook-specific step is
// a call on this interface: what width a strip has, which rates exist, the
// scale convention, and the encode of one strip through all residual stages.
// One folder per codebook implements it (e8_shell/, trellis/); QTIP's
// quantize_finetune, which takes the codebook as an argument, is the model.
//
// The interface knows no checkpoint format: codes come back as plain tensors
// in the codebook's own layer layout, and core/format turns them into the
// stored tensors (format::LayerCodes).

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <torch/types.h>

namespace glq::codebook {

enum class CodebookKind { E8Shell, Trellis };

// "e8_shell", "trellis": the names quantization_config.codebook uses.
const char* codebook_name(CodebookKind kind);
// Throws glq::Error naming `where` for any other name.
CodebookKind parse_codebook(const std::string& name, const std::string& where);

// One column strip through every residual stage.
struct StripCodes {
    torch::Tensor recon;               // [m, width] float32, in Wscale units
    std::vector<torch::Tensor> codes;  // per stage; leading dimension m / row_group()
};

// A codebook at one rate, on one device: what the sweep calls per strip.
class RateEncoder {
public:
    virtual ~RateEncoder() = default;
    // target [m, width] float32 on the encoder's device, in Wscale units.
    // The first call may fit constants of the layer from its target (the
    // trellis fits its residual scale on the first strip, as the reference
    // does); later calls, the refinement passes' included, reuse them.
    virtual StripCodes encode(const torch::Tensor& target) = 0;
    // The strips' codes of stage s, in column order, as the layer's codes of
    // that stage (E8: int64 [m, n/8]; trellis: int32 states [tiles, 256/V],
    // tiles row-block-major).
    virtual torch::Tensor assemble(const std::vector<torch::Tensor>& strips, int64_t m, int64_t n) const = 0;
    // W~ (RHT domain) of assembled codes, float32 [m, n]: exactly what a
    // reader of the stored layer decodes.
    virtual torch::Tensor decode(const std::vector<torch::Tensor>& codes, int64_t m, int64_t n, float wscale) const = 0;
    // The weight of each stage in the reconstruction, as stored (1, 1/rs, ...);
    // final once the first strip is encoded.
    virtual std::vector<float> stage_weights() const = 0;
};

class Codebook {
public:
    virtual ~Codebook() = default;
    virtual CodebookKind kind() const = 0;
    const char* name() const { return codebook_name(kind()); }
    // Columns per LDL block and sweep strip (E8: 8; trellis: 16).
    virtual int64_t block_width() const = 0;
    // Rows one code spans (E8: 1; trellis: 16, one 16×16 tile). A refinement
    // pass keeps or drops a strip's new codes per group of this many rows.
    virtual int64_t row_group() const = 0;
    virtual int min_bpw() const = 0;
    virtual int max_bpw() const = 0;
    // Throws glq::Error naming `where` when bpw is outside the codebook's rates.
    void check_bpw(int bpw, const std::string& where) const;
    // Throws glq::Error naming `where` when an [m, n] weight cannot be stored
    // (E8: n % 8; trellis: m and n multiples of 32), saying why.
    virtual void check_shape(int64_t m, int64_t n, const std::string& where) const = 0;
    // Wscale = rms(W~) · opt_scale().
    virtual double opt_scale() const = 0;
    // Bytes of the stored codes of an [m, n] layer at `bpw` (no signs or scales).
    virtual uint64_t code_bytes(int64_t m, int64_t n, int bpw) const = 0;
    virtual std::unique_ptr<RateEncoder> encoder(int bpw, const torch::Device& device) const = 0;
};

const Codebook& codebook_of(CodebookKind kind);

} // namespace glq::codebook
