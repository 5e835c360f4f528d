# CPack: the Debian package of GLQ Workbench.
#
#   cmake --build build -j2 && (cd build && cpack -G DEB)
#   sudo apt-get install ./build/glq-workbench_<version>_amd64.deb
#   tools/check_package.sh build     # build, install, run and purge it (root)
#
# What the package holds, and why
# -------------------------------
# * /usr/bin/glqw, /usr/bin/glq-workbench (when the GUI is built), the desktop
#   entry in /usr/share/applications, the icon in /usr/share/icons/hicolor and
#   the bundled calibration text in /usr/share/glq-workbench/calibration (the
#   binaries look for it at <their folder>/../share/glq-workbench/calibration,
#   see core/quant/calibration.cpp).
# * /usr/lib/glq-workbench: LibTorch (libtorch*, libc10*, the wheel's libgomp)
#   and the CUDA libraries it needs (cudart, cuBLAS/cuBLASLt, cuSPARSE(Lt),
#   cuFFT, cuRAND, cuSOLVER, cuDNN, NCCL, NVSHMEM, nvJitLink, CUPTI), copied
#   out of the builder's venv by installer/bundle_runtime.cmake at install
#   time; the binaries carry RUNPATH $ORIGIN/../lib/glq-workbench and the
#   bundled libraries RUNPATH $ORIGIN. Debian packages no LibTorch recent
#   enough (bookworm's libtorch is 1.13) and no CUDA 13, so a user-facing
#   package cannot depend on them; it must never depend on the venv either.
#   A private folder under /usr/lib keeps these sonames out of the system
#   linker's search path, as Firefox or LibreOffice do with theirs.
# * Everything is installed relative to CMAKE_INSTALL_PREFIX (no absolute
#   destinations, no symlinks made by maintainer scripts), so the same rules
#   serve `cmake --install build --prefix ~/.local` and this package, whose
#   prefix is /usr. (/opt/glq-workbench with links in /usr/bin would need
#   absolute install destinations for the desktop entry and icon; nothing is
#   gained by it.)
# * Depends: what the Debian archive provides (libc, libstdc++, Qt 6,
#   QCustomPlot, zlib) is found by dpkg-shlibdeps from the binaries; Qt's
#   platform plugins (xcb, wayland, offscreen) are not linked, so
#   qt6-qpa-plugins is named by hand. The NVIDIA driver (libcuda.so.1) is not
#   a dependency: without it the program runs on the CPU.
#
# Size. The torch wheel's LibTorch is built with CUDA, and even libtorch_cpu.so
# links libcudart and libcupti; libtorch.so links libtorch_cuda.so, which
# links cuBLAS, cuFFT, cuSPARSE, NCCL and the rest. So every library of the
# CUDA runtime above is needed just to start the program, on a machine with or
# without a GPU: about 2.7 GB of it, plus 0.7 GB that LibTorch opens on first
# GPU use (cuSOLVER for the Cholesky of LDLQ, cuDNN's engines). The package is
# therefore a GPU package: 3.3 GB installed, 2.1 GB as a zstd .deb. Splitting
# the CUDA runtime into a second package would not make the first one usable
# alone. A CPU-only package (roughly 0.5 GB, an estimate) needs a CPU-only LibTorch (the
# torch==2.11.0+cpu wheel from download.pytorch.org) to build against; that is
# a different build, not a packaging switch, and is left out. NVRTC (used by a
# few LibTorch element-wise ops that GLQ does not call) is not shipped.
set(CPACK_PACKAGE_NAME "glq-workbench")
set(CPACK_PACKAGE_VENDOR "GLQ Workbench")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Post-training quantization of LLMs with E8 lattice codebooks (GLQ)")
# The body; CPack puts the summary above it and indents it as control files want.
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION "A Qt 6 workbench and a headless CLI (glqw) to load Hugging Face models or
import GGUF files, chat with them, measure perplexity, profile per-layer
Hessian sensitivity, plan a mixed-precision bits-per-weight map, quantize
with E8 lattice codebooks (on the GPU when one is present) and export
checkpoints in the format of the glq Python package.

LibTorch and the CUDA runtime libraries it needs are bundled in
/usr/lib/glq-workbench.")
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
set(CPACK_PACKAGE_CONTACT "GLQ Workbench maintainers <glq-workbench@localhost>")
set(CPACK_DEBIAN_PACKAGE_SECTION "science")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_PACKAGING_INSTALL_PREFIX "/usr")
# Our binaries only; the bundled LibTorch is shipped as the wheel built it.
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "qt6-qpa-plugins")
# zstd: fast to pack and unpack (cpack took 1-4 minutes here on two busy cores,
# most of it copying); Debian 12's dpkg (1.21.22) reads it, Debian 11's does not.
set(CPACK_DEBIAN_COMPRESSION_TYPE "zstd")
set(CPACK_GENERATOR "DEB")
include(CPack)

# The package check: builds the .deb in this build folder, installs it with
# apt-get, runs glqw and glq-workbench from it with a bare environment, and
# purges it. It needs root and takes ~3 minutes here, so it is added only when
# asked for:  cmake -DGLQ_TEST_PACKAGE=ON build && ctest --test-dir build -L package
option(GLQ_TEST_PACKAGE "Add the CTest package_install (label package): build, install, run and remove the .deb (root)" OFF)
if(GLQ_TEST_PACKAGE AND GLQ_BUILD_TESTS)
  add_test(NAME package_install
           COMMAND ${PROJECT_SOURCE_DIR}/tools/check_package.sh ${CMAKE_BINARY_DIR})
  set_tests_properties(package_install PROPERTIES LABELS package TIMEOUT 3600 SKIP_RETURN_CODE 77
                                                   RUN_SERIAL ON)
endif()
