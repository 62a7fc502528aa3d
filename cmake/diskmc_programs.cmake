# Flags for the project's own programs (tests, examples, benchmarks), kept off
# the exported targets so users choose their own.

add_library(diskmc_program_flags INTERFACE)
# -Wno-maybe-uninitialized: g++ 12 reports false positives inside its own
# AVX-512 intrinsics (avx512fintrin.h) when Eigen vectorises, and inside <regex>.
# -Wno-missing-field-initializers: g++ 12 warns on designated initialisers that
# leave members at their defaults, which is how options structs are meant to be used.
target_compile_options(diskmc_program_flags INTERFACE -Wall -Wextra -Wpedantic -Wno-maybe-uninitialized
  -Wno-missing-field-initializers)
if(DISKMC_NATIVE)
  target_compile_options(diskmc_program_flags INTERFACE -march=native)
  # g++ < 13 also reports a false -Wuninitialized inside its AVX-512
  # intrinsics (GCC bug 105593: `__m512d __Y = __Y;` in _mm512_undefined_pd),
  # wherever Eigen's packet exp, min or max get inlined (LBFGSpp's bound
  # projection, Eigen's .exp()); #pragma GCC diagnostic cannot reach it.
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
    target_compile_options(diskmc_program_flags INTERFACE -Wno-uninitialized)
  endif()
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
if(DISKMC_SANITIZE_THREADS)
  if(DISKMC_SANITIZE)
    message(FATAL_ERROR "DISKMC_SANITIZE_THREADS and DISKMC_SANITIZE: ThreadSanitizer cannot be combined with AddressSanitizer")
  endif()
  # ThreadSanitizer: CI's threaded tests (the pool, the ensemble's worker
  # team, NUTS threads and lockstep, the likelihood's threads).
  target_compile_options(diskmc_program_flags INTERFACE -fsanitize=thread -fno-omit-frame-pointer)
  target_link_options(diskmc_program_flags INTERFACE -fsanitize=thread)
endif()
# -O3 for the programs; -O2 for a target with the property
# DISKMC_COMPILE_FASTER (the test executables: ~20% faster to compile, and
# they time nothing).
if(CMAKE_BUILD_TYPE STREQUAL "Release")
  target_compile_options(diskmc_program_flags INTERFACE
    $<IF:$<BOOL:$<TARGET_PROPERTY:DISKMC_COMPILE_FASTER>>,-O2,-O3>)
endif()

# diskmc_add_program(NAME SOURCE): one executable per source file, linked with
# the core, FITS and FFTW support when built, and the program flags.
function(diskmc_add_program name source)
  add_executable(${name} ${source})
  target_link_libraries(${name} PRIVATE diskmc::diskmc diskmc_program_flags)
  if(TARGET diskmc::fits)
    target_link_libraries(${name} PRIVATE diskmc::fits)
  endif()
  if(TARGET diskmc::fftw)
    target_link_libraries(${name} PRIVATE diskmc::fftw)
    target_compile_definitions(${name} PRIVATE DISKMC_PROGRAM_WITH_FFTW=1)
  endif()
endfunction()
