// The Catch2 main of the MPI tests: MPI is started before and stopped after
// the test run; every rank runs every test case in the same order (their
// likelihood calls are collective). A rank's failure fails its exit code,
// which mpiexec returns.
#define CATCH_CONFIG_RUNNER
#include <mpi.h>

#include <catch2/catch.hpp>

int main(int argc, char** argv) {
    MPI_Init(&argc, &argv);
    const int failed = Catch::Session().run(argc, argv);
    MPI_Finalize();
    return failed;
}
