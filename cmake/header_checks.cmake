# Every public header compiles on its own: one generated source per header,
# each including only that header, built as one object library. Module
# headers that only include their parts (diskmc.hpp, disk.hpp, mpi.hpp, ...:
# nothing but comments and #include "diskmc/...") are left out: their parts
# are each checked, the programs include them, and they are the costliest to
# compile (CI has 2 cores).

# Whether `header` (under include/) holds only comments and includes of
# diskmc headers.
function(diskmc_is_module_header header result)
  file(STRINGS ${PROJECT_SOURCE_DIR}/include/${header} lines ENCODING UTF-8)
  foreach(line IN LISTS lines)
    if(NOT line MATCHES "^[ \t]*(//.*|#pragma once[ \t]*|#include \"diskmc/[^\"]+\"[ \t]*)?$")
      set(${result} FALSE PARENT_SCOPE)
      return()
    endif()
  endforeach()
  set(${result} TRUE PARENT_SCOPE)
endfunction()

file(GLOB_RECURSE diskmc_public_headers CONFIGURE_DEPENDS
  RELATIVE ${PROJECT_SOURCE_DIR}/include ${PROJECT_SOURCE_DIR}/include/diskmc/*.hpp)
set(diskmc_header_check_sources)
foreach(header IN LISTS diskmc_public_headers)
  if(header MATCHES "^diskmc/io/" AND NOT DISKMC_WITH_FITS)
    continue()
  endif()
  if(header MATCHES "^diskmc/mpi(/|\\.hpp$)" AND NOT TARGET diskmc::mpi)
    continue()
  endif()
  if(header MATCHES "^diskmc/fftw/" AND NOT TARGET diskmc::fftw)
    continue()
  endif()
  diskmc_is_module_header(${header} module_header)
  if(module_header)
    continue()
  endif()
  string(MAKE_C_IDENTIFIER ${header} stem)
  set(source ${PROJECT_BINARY_DIR}/header_checks/${stem}.cpp)
  file(CONFIGURE OUTPUT ${source} CONTENT "#include <${header}>\n")
  list(APPEND diskmc_header_check_sources ${source})
endforeach()
add_library(diskmc_header_checks OBJECT ${diskmc_header_check_sources})
target_link_libraries(diskmc_header_checks PRIVATE diskmc::diskmc diskmc_program_flags)
if(TARGET diskmc::fits)
  target_link_libraries(diskmc_header_checks PRIVATE diskmc::fits)
endif()
if(TARGET diskmc::mpi)
  target_link_libraries(diskmc_header_checks PRIVATE diskmc::mpi)
endif()
if(TARGET diskmc::fftw)
  target_link_libraries(diskmc_header_checks PRIVATE diskmc::fftw)
endif()
