# CPack: `cpack -G DEB` in the build folder makes an installable .deb with
# glqw, glq-workbench (when the GUI is built), the .desktop file and the icon.
set(CPACK_PACKAGE_NAME "glq-workbench")
set(CPACK_PACKAGE_VENDOR "GLQ Workbench")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Post-training quantization of LLMs with E8 lattice codebooks (GLQ)")
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
set(CPACK_PACKAGE_CONTACT "GLQ Workbench maintainers <glq-workbench@localhost>")
set(CPACK_DEBIAN_PACKAGE_SECTION "science")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
# Qt and system libraries: resolved by dpkg-shlibdeps. LibTorch comes from the
# torch wheel, which Debian does not package: it is installed beside the binaries.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS_PRIVATE_DIRS "${TORCH_INSTALL_PREFIX}/lib")
set(CPACK_GENERATOR "DEB")
include(CPack)
