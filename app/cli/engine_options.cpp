#include "app/cli/engine_options.h"

#include "core/model/dtype.h"

namespace glq::cli {

void add_engine_options(ArgParser& args) {
    args.option("device", "DEVICE", "cpu, cuda or cuda:N", "cpu")
        .option("dtype", "DTYPE", "f32, bf16 or f16 (default: f32 on cpu, bf16 on cuda)")
        .flag("decode-on-load", "GLQ checkpoints: dequantise each layer to a dense weight at load (the reference "
                                "path; the default keeps the codes and multiplies against them)");
}

session::LoadSettings engine_load_settings(const ArgParser& args) {
    session::LoadSettings s;
    s.device = args.get("device");
    s.dtype = args.get_or("dtype", "auto");
    // Checked here, so that a bad value is reported under the option's name.
    (void)model::parse_device(s.device);
    if (s.dtype != "auto") (void)model::parse_dtype(s.dtype);
    return s;
}

model::LoadOptions engine_load_options(const ArgParser& args) {
    const session::LoadSettings s = engine_load_settings(args);
    model::LoadOptions load;
    load.device = model::parse_device(s.device);
    load.dtype = model::parse_dtype(session::resolve_dtype(s.device, s.dtype));
    load.decode_on_load = args.has("decode-on-load");
    return load;
}

} // namespace glq::cli
