# Flags for the project's own programs (tests, examples, benchmarks), kept off
# the exported targets so users choose their own.

add_library(diskmc_program_flags INTERFACE)
# -Wno-maybe-uninitialized: g++ 12 reports false positives inside its own
# AVX-512 intrinsics (avx512fintrin.h) when Eigen vectorises, and inside <regex>.
target_compile_options(diskmc_program_flags INTERFACE -Wall -Wextra -Wpedantic -Wno-maybe-uninitialized)
# g++ 12 also reports "'__Y' is used uninitialized" inside the same intrinsics
# (_mm512_undefined_pd's self-initialisation; GCC bug 105593, fixed in 13)
# wherever Eigen's AVX-512 kernels (matrix products, reductions) are compiled.
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
  target_compile_options(diskmc_program_flags INTERFACE -Wno-uninitialized)
endif()
if(DISKMC_NATIVE)
  target_compile_options(diskmc_program_flags INTERFACE -march=native)
endif()
if(DISKMC_WARNINGS_AS_ERRORS)
  target_compile_options(diskmc_program_flags INTERFACE -Werror)
endif()
if(DISKMC_SANITIZE)
  # g++ 12 reports a false -Wmaybe-uninitialized inside <regex> (pulled in by
  # catch.hpp) under the sanitizers.
  target_compile_options(diskmc_program_flags INTERFACE
    -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
    -Wno-maybe-uninitialized)
  target_link_options(diskmc_program_flags INTERFACE -fsanitize=address,undefined)
endif()
if(CMAKE_BUILD_TYPE STREQUAL "Release")
  target_compile_options(diskmc_program_flags INTERFACE -O3)
endif()

# diskmc_add_program(NAME SOURCE): one executable per source file, linked with
# the core, FITS support when built, and the program flags.
function(diskmc_add_program name source)
  add_executable(${name} ${source})
  target_link_libraries(${name} PRIVATE diskmc::diskmc diskmc_program_flags)
  if(TARGET diskmc::fits)
    target_link_libraries(${name} PRIVATE diskmc::fits)
  endif()
endfunction()
