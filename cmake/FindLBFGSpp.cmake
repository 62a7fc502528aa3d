# Finds LBFGSpp (header-only L-BFGS-B on Eigen, <LBFGSB.h>), which
# diskmc/inference/map.hpp includes, and provides the target LBFGSpp::LBFGSpp.
#
# Upstream LBFGSpp installs a CMake package `lbfgspp` (target `lbfgspp`);
# Debian 12's liblbfgspp-dev ships only the headers (/usr/include/LBFGSB.h,
# /usr/include/LBFGSpp/). The package is used when found, else the headers.
# Installed beside diskmcConfig.cmake, which finds it the same way.
#
# Sets LBFGSpp_FOUND and LBFGSpp_INCLUDE_DIR (headers only).

if(TARGET LBFGSpp::LBFGSpp)
  set(LBFGSpp_FOUND TRUE)
  return()
endif()

find_package(lbfgspp CONFIG QUIET)
if(TARGET lbfgspp)
  add_library(LBFGSpp::LBFGSpp INTERFACE IMPORTED)
  target_link_libraries(LBFGSpp::LBFGSpp INTERFACE lbfgspp)
  set(LBFGSpp_FOUND TRUE)
  return()
endif()

find_path(LBFGSpp_INCLUDE_DIR NAMES LBFGSB.h PATH_SUFFIXES include
  DOC "Folder holding LBFGSpp's LBFGSB.h")
include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(LBFGSpp REQUIRED_VARS LBFGSpp_INCLUDE_DIR)
if(LBFGSpp_FOUND)
  add_library(LBFGSpp::LBFGSpp INTERFACE IMPORTED)
  set_target_properties(LBFGSpp::LBFGSpp PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${LBFGSpp_INCLUDE_DIR}")
  if(TARGET Eigen3::Eigen)
    target_link_libraries(LBFGSpp::LBFGSpp INTERFACE Eigen3::Eigen)
  endif()
endif()
