// Must NOT compile: a disk component without its check() member. The ctest
// disk_component_missing_member_is_named builds this file and passes only if
// the compiler's message names the missing member (require_disk_component's
// static_assert).

#include <optional>
#include <vector>

#include "diskmc/inference/disk_family.hpp"

namespace {

template <class T>
struct ramp_surface {
    T slope;
    template <class V>
    V height(const V& r) const {
        return V(r * slope);
    }
};

struct component_without_check {
    static std::vector<diskmc::inference::parameter_info> parameters() {
        return {{"slope", 0.1, diskmc::inference::prior::flat(0.0, 1.0), 0.0, "", "height per arcsec"}};
    }
    template <class T>
    static ramp_surface<T> make(diskmc::parameter_reader<T>& in) {
        return {in.next()};
    }
};

}  // namespace

int main() {
    const diskmc::inference::disk_family<component_without_check, diskmc::keplerian_component> family;
    return static_cast<int>(family.parameter_names().size());
}
