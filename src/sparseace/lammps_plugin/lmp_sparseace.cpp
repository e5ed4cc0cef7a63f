/* lmp_sparseace: LAMMPS' own `lmp` with pair_style sparseace added, for a LAMMPS library that
   cannot load plugins (built without the PLUGIN package, e.g. Debian's).

   It runs the LAMMPS library it is linked to, unchanged: it starts MPI, creates the LAMMPS
   instance from the command line (the options of lmp: -in, -var, -log, -screen, -echo, ...),
   adds "sparseace" to the force's table of pair styles (what `plugin load` does) and reads the
   input as lmp does.  Run it like lmp, under mpirun for several ranks. */

#include "force.h"
#include "input.h"
#include "lammps.h"
#include "pair_sparseace.h"

#include <mpi.h>

#include <cstdio>
#include <exception>

using namespace LAMMPS_NS;

static Pair *create_pair_sparseace(LAMMPS *lmp)
{
  return new PairSparseACE(lmp);
}

int main(int argc, char **argv)
{
  MPI_Init(&argc, &argv);
  try {
    auto *lmp = new LAMMPS(argc, argv, MPI_COMM_WORLD);
    (*lmp->force->pair_map)["sparseace"] = &create_pair_sparseace;
    lmp->input->file();
    delete lmp;
  } catch (std::exception &e) {    // a LAMMPS built with exceptions: it has printed the error
    std::fprintf(stderr, "lmp_sparseace: %s\n", e.what());
    int nprocs;
    MPI_Comm_size(MPI_COMM_WORLD, &nprocs);
    if (nprocs > 1) MPI_Abort(MPI_COMM_WORLD, 1);    // other ranks may wait in a collective
    MPI_Finalize();
    return 1;
  }
  MPI_Finalize();
  return 0;
}
