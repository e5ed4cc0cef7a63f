"""Native LAMMPS pair style ``sparseace`` for linear ACE models, loaded as a LAMMPS plugin.

Usage::

    path = build_plugin()                      # compiled once, cached
    export_model(model, "model.sace")          # model: ACEPotential
    lmp.command(f"plugin load {lammps_quote(path)}")   # sparseace._lammps.lammps_quote
    lmp.command("pair_style sparseace")
    lmp.command("pair_coeff * * 'model.sace' Si")   # one element (or NULL) per atom type

Units metal (eV, Å); needs ``newton pair on`` (the default).  Energy, forces, global and
per-atom energy and virial agree with ``ACEPotential.evaluate``: the C++ evaluates the model's
contraction (``ACEPotential.contraction``: atomic base in runs, products through a DAG, forces
by its reverse sweep) as ``basis.kernels.site_energies`` does.  ``export.py`` documents the
model file, ``build.py`` the compilation.  ``CMakeLists.txt`` builds it against another installed
LAMMPS: the plugin if that LAMMPS has the PLUGIN package, and always ``lmp_sparseace``, its lmp
with the pair style added (``lmp_sparseace.cpp``).
"""

from .build import build_plugin
from .export import export_model

__all__ = ["build_plugin", "export_model"]
