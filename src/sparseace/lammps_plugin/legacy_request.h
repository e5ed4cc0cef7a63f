/* A full neighbour list from a LAMMPS that predates Neighbor::add_request (LAMMPS 2022).

   There a pair style called neighbor->request(this, instance_me) and then set the public flags
   half = 0, full = 1 of the NeighRequest it made.  Installs of those versions (LAMMPS' own
   `cmake --install`, Debian 12's liblammps-dev) do not ship neigh_request.h, so the flags are
   reached through LegacyRequestHead: the leading data members of NeighRequest, in their order,
   as LAMMPS declared them from 2017 to January 2022 (src/neigh_request.h of those versions:
   index, requestor, requestor_instance, id, pair, fix, compute, command, neigh, half, full, after
   the Pointers base).  Before writing, the values a fresh request holds are checked (its index,
   its requestor `pair`, its instance, the defaults pair = half = 1, others 0), so a LAMMPS with
   another layout stops with an error instead of getting a wrong list. */

#ifndef SPARSEACE_LEGACY_REQUEST_H
#define SPARSEACE_LEGACY_REQUEST_H

#include "error.h"
#include "neighbor.h"
#include "pair.h"
#include "pointers.h"

#include <string>

namespace LAMMPS_NS {

struct LegacyRequestHead : protected Pointers {
  int index;
  void *requestor;
  int requestor_instance;
  int id;
  int pair, fix, compute, command, neigh;
  int half, full;
};

inline void request_full_list_legacy(LAMMPS *lmp, Pair *pair, int instance)
{
  const int irequest = lmp->neighbor->request(pair, instance);
  auto *head = reinterpret_cast<LegacyRequestHead *>(lmp->neighbor->requests[irequest]);
  const bool expected = head->index == irequest && head->requestor == pair &&
      head->requestor_instance == instance && head->id == 0 && head->pair == 1 &&
      head->fix == 0 && head->compute == 0 && head->command == 0 && head->neigh == 0 &&
      head->half == 1 && head->full == 0;
  if (!expected)
    lmp->error->all(FLERR, std::string("pair sparseace: this LAMMPS' NeighRequest does not have "
                                       "the layout of LAMMPS 2017 to January 2022, so no full "
                                       "neighbour list can be requested: use LAMMPS 2022 or "
                                       "newer (Neighbor::add_request)"));
  head->half = 0;
  head->full = 1;
}

}    // namespace LAMMPS_NS

#endif
