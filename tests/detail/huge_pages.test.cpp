#include <catch2/catch.hpp>

#include <cstddef>
#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "diskmc/detail/huge_pages.hpp"

namespace detail = diskmc::detail;

namespace {

/// The VmFlags of the mapping of this process that holds `address`, from
/// /proc/self/smaps ("" when there is none).
std::string mapping_flags(std::uintptr_t address) {
    std::ifstream smaps("/proc/self/smaps");
    std::string line;
    bool inside = false;
    while (std::getline(smaps, line)) {
        std::uintptr_t begin = 0, end = 0;
        char dash = 0;
        std::istringstream range(line);
        if (range >> std::hex >> begin >> dash >> end && dash == '-' && line.find(':') > line.find(' ')) {
            inside = begin <= address && address < end;
        } else if (inside && line.rfind("VmFlags:", 0) == 0) {
            return line.substr(8) + " ";
        }
    }
    return "";
}

}  // namespace

TEST_CASE("advise_huge_pages leaves any buffer's contents as they were", "[huge_pages]") {
    detail::advise_huge_pages(nullptr, 0);
    for (const std::size_t count : {std::size_t{1}, std::size_t{1000}, std::size_t{3} << 20}) {
        std::vector<double> values(count);
        for (std::size_t i = 0; i < count; ++i) values[i] = static_cast<double>(i) + 0.5;
        // Advised after the writes, and from an address off any page boundary.
        detail::advise_huge_pages(values.data() + 1, (count - 1) * sizeof(double));
        bool intact = true;
        for (std::size_t i = 0; i < count; ++i) intact = intact && values[i] == static_cast<double>(i) + 0.5;
        CHECK(intact);
    }
}

#ifdef __linux__
TEST_CASE("advise_huge_pages marks the whole 2 MB pages inside the buffer, and only them", "[huge_pages]") {
    std::ifstream mode_file("/sys/kernel/mm/transparent_hugepage/enabled");
    std::string mode;
    std::getline(mode_file, mode);
    if (mode.empty() || mode.find("[never]") != std::string::npos) {
        WARN("this kernel offers no transparent huge pages: only the contents are checked");
        return;
    }
    constexpr std::uintptr_t huge_page = std::uintptr_t{2} << 20;
    std::vector<double> chain(std::size_t{3} << 20);  // 24 MB: a mapping of its own
    const auto address = reinterpret_cast<std::uintptr_t>(chain.data());
    detail::advise_huge_pages(chain.data(), chain.size() * sizeof(double));
    const std::uintptr_t first = (address + huge_page - 1) & ~(huge_page - 1);
    CHECK(mapping_flags(first).find(" hg ") != std::string::npos);
    CHECK(mapping_flags(first + 5 * huge_page).find(" hg ") != std::string::npos);
    if (first > address) CHECK(mapping_flags(address).find(" hg ") == std::string::npos);
}
#endif
