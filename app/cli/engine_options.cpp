#include "app/cli/engine_options.h"

#include "core/model/dtype.h"

namespace glq::cli {

void add_engine_options(ArgParser& args) {
    args.option("device", "DEVICE", "cpu, cuda or cuda:N", "cpu")
        .option("dtype", "DTYPE", "f32, bf16 or f16 (default: f32 on cpu, bf16 on cuda)");
}

model::LoadOptions engine_load_options(const ArgParser& args) {
    model::LoadOptions load;
    load.device = model::parse_device(args.get("device"));
    load.dtype = args.has("dtype") ? model::parse_dtype(args.get("dtype"))
                                   : (load.device.is_cuda() ? torch::kBFloat16 : torch::kFloat32);
    return load;
}

} // namespace glq::cli
