// glqw version: versions of the program and LibTorch, and the devices found.

#include <iostream>

#include <torch/version.h>

#include "app/cli/command.h"
#include "kernels/device.h"

namespace {

int run_version(int argc, char** argv) {
    glq::cli::ArgParser args("version", "Print the versions of glqw and LibTorch and list the compute devices.");
    if (!args.parse(argc, argv, std::cout)) return 0;
    std::cout << "glqw " << GLQW_VERSION << "\n"
              << "LibTorch " << TORCH_VERSION << "\n"
              << "CUDA kernels: " << (glq::kernels::built_with_cuda() ? "built" : "not built") << "\n"
              << "devices:\n" << glq::kernels::describe_devices() << "\n";
    return 0;
}

} // namespace

GLQW_COMMAND("version", "Print versions and the compute devices found", run_version);
