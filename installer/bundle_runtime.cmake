# Install-time script (run by `cmake --install` and by `cpack`, through
# install(SCRIPT) in app/CMakeLists.txt): copies the shared libraries the
# binaries need that no Debian package provides -- LibTorch and c10 from the
# PyPI torch wheel, the CUDA libraries of the nvidia-* wheels, a CUDA toolkit's
# runtime under /usr/local -- into <prefix>/lib/glq-workbench, so that an
# installed glqw / glq-workbench never reaches back into the builder's venv.
# installer/packaging.cmake explains the choice.
#
# Set by the caller (install(CODE) just before this script):
#   GLQ_BUNDLE_EXECUTABLES  the build-tree binaries (their build RPATH still
#                           points into the venv, which is how the libraries
#                           are found here)
#   GLQ_BUNDLE_EXTRA_LIBS   libraries LibTorch dlopen()s instead of linking
#                           (no NEEDED entry leads to them): libtorch_cuda_linalg
#                           (Cholesky/inverse on CUDA) and cuDNN's sub-libraries
#   GLQ_BUNDLE_LIBDIR       destination, relative to the install prefix

# What the Debian archive provides (libc, libstdc++, Qt, QCustomPlot, zlib)
# stays a package dependency (dpkg-shlibdeps finds it); everything resolved
# outside the system library folders is ours to ship.
set(_system_dirs "^/(usr/)?lib(32|64|x32)?/")
# The NVIDIA driver's user-space libraries come with the driver, never with an
# application; LibTorch opens them at run time when a GPU is present.
set(_driver_libs "^lib(cuda|nvidia-ml)\\.so")

file(GET_RUNTIME_DEPENDENCIES
     EXECUTABLES ${GLQ_BUNDLE_EXECUTABLES}
     LIBRARIES ${GLQ_BUNDLE_EXTRA_LIBS}
     RESOLVED_DEPENDENCIES_VAR _resolved
     UNRESOLVED_DEPENDENCIES_VAR _unresolved
     CONFLICTING_DEPENDENCIES_PREFIX _conflict
     PRE_EXCLUDE_REGEXES "${_driver_libs}"
     POST_EXCLUDE_REGEXES "${_system_dirs}")

if(_unresolved)
  message(FATAL_ERROR "glq-workbench install: shared libraries not found for ${GLQ_BUNDLE_EXECUTABLES}: "
                      "${_unresolved} (is the venv that provided LibTorch still there?)")
endif()
# Two copies of one soname (say, the system's libgomp and the torch wheel's):
# the binaries resolve it in the bundle folder first, so ship the bundled one.
foreach(_name IN LISTS _conflict_FILENAMES)
  set(_pick "")
  foreach(_path IN LISTS _conflict_${_name})
    if(NOT _path MATCHES "${_system_dirs}")
      set(_pick "${_path}")
    endif()
  endforeach()
  if(_pick)
    list(FILTER _resolved EXCLUDE REGEX "/${_name}$")
    list(APPEND _resolved "${_pick}")
  endif()
endforeach()

set(_dest "${CMAKE_INSTALL_PREFIX}/${GLQ_BUNDLE_LIBDIR}")
set(_bundle ${_resolved} ${GLQ_BUNDLE_EXTRA_LIBS})
list(REMOVE_DUPLICATES _bundle)
list(SORT _bundle)
foreach(_lib IN LISTS _bundle)
  # Wheels hold real files under their sonames; a toolkit's libcudart.so.13 is
  # a link to libcudart.so.13.0.x: install the file under the name asked for.
  get_filename_component(_name "${_lib}" NAME)
  get_filename_component(_real "${_lib}" REALPATH)
  file(INSTALL "${_real}" DESTINATION "${_dest}" RENAME "${_name}"
       FILE_PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
  # The wheels' own RPATHs ($ORIGIN/../../nvidia/cu13/lib ...) describe the
  # venv's layout; in the flat bundle folder every library is beside the others.
  set(_file "$ENV{DESTDIR}${_dest}/${_name}")
  unset(_rp)
  unset(_runp)
  file(READ_ELF "${_file}" RPATH _rp RUNPATH _runp)
  if(_rp OR _runp)
    file(RPATH_SET FILE "${_file}" NEW_RPATH "$ORIGIN")
  endif()
endforeach()
list(LENGTH _bundle _count)
message(STATUS "Bundled ${_count} runtime libraries into ${_dest}")
