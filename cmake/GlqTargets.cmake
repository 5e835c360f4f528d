# Small helpers shared by the CMakeLists of core/, kernels/, app/ and tests/.

# Our own warnings, on our own targets only (LibTorch's headers are SYSTEM).
function(glq_warnings target)
  target_compile_options(${target} PRIVATE
    $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wno-unused-parameter>)
endfunction()

# LibTorch headers are huge: a precompiled header keeps a 2-core build sane.
function(glq_torch_pch target)
  target_precompile_headers(${target} PRIVATE
    $<$<COMPILE_LANGUAGE:CXX>:<torch/torch.h$<ANGLE-R>>)
endfunction()

# A library folder may be empty while its first files are being written;
# give CMake one empty translation unit so the target still exists.
function(glq_nonempty var)
  if(NOT ${var})
    set(_empty "${CMAKE_CURRENT_BINARY_DIR}/glq_empty.cpp")
    file(WRITE "${_empty}" "// placeholder translation unit for an empty folder\n")
    set(${var} "${_empty}" PARENT_SCOPE)
  endif()
endfunction()
