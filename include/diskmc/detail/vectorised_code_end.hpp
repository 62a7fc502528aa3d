// Closes diskmc/detail/vectorised_code_begin.hpp; hence no #pragma once.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
