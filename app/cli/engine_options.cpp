#include "app/cli/engine_options.h"

#include "core/model/dtype.h"

namespace glq::cli {

void add_engine_options(ArgParser& args) {
    args.option("device", "DEVICE", "cpu, cuda or cuda:N", "cpu")
        .option("dtype", "DTYPE", "f32, bf16 or f16 (default: f32 on cpu, bf16 on cuda)")
        .flag("decode-on-load", "GLQ checkpoints: dequantise each layer to a dense weight at load (the reference "
                                "path; the default keeps the codes and multiplies against them)");
}

model::LoadOptions engine_load_options(const ArgParser& args) {
    model::LoadOptions load;
    load.device = model::parse_device(args.get("device"));
    load.dtype = args.has("dtype") ? model::parse_dtype(args.get("dtype"))
                                   : (load.device.is_cuda() ? torch::kBFloat16 : torch::kFloat32);
    load.decode_on_load = args.has("decode-on-load");
    return load;
}

} // namespace glq::cli
