// A consumer of the installed library: includes the umbrella header and the
// FITS header, and uses one piece of each.
#include <diskmc/diskmc.hpp>
#include <diskmc/concepts/archetypes.hpp>
#include <diskmc/io/fits.hpp>

#include <iostream>

int main() {
    static_assert(diskmc::log_density<diskmc::archetypes::log_density_archetype>);
    std::cout << "consumer: built against the installed diskmc\n";
    return 0;
}
