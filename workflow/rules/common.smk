# Shared helpers: validated config, settings lookups, dataset and source paths, the list of
# final outputs.
import functools
import json
import os
from pathlib import Path

import sys

from sparseace import study
from sparseace.config import fit_plan, validate_config
from sparseace.fitting import JOB_MATRICES, chunk_rows_gb, matrices_gb
from sparseace.solvers import SOLVERS

validate_config(config, "workflow config")  # also imports the config's solver_plugins
print("plan: basis functions and memory of the design factors per job (design rows are "
      "streamed: memory does not grow with them)\n" + "\n".join(
          "  " + ", ".join(f"{k} {v}" for k, v in row.items()) for row in fit_plan(config)),
      file=sys.stderr)


def source_path(source):
    return f"resources/raw/{source}/{config['sources'][source]['file']}"


def dataset_file_paths(dataset):
    files = config["datasets"][dataset]["files"]
    return {part: [source_path(f["source"]) for f in files.get(part, [])]
            for part in ("train", "test", "pool")}


def run_label(datasets):
    """Footer of figures and tables: which run and which data."""
    run = {"full": "full study", "reduced": "reduced run", "test": "test run"}[config["study"]]
    return f"{run} (config study={config['study']}); data: " + ", ".join(datasets)


LITERATURE = str(Path(workflow.basedir) / "config" / "literature_values.yaml")


def fit_settings(dataset):
    return config["fits"][dataset]


def dataset_settings(dataset):
    return config["datasets"][dataset]


def chunk_count(dataset, split):
    return fit_settings(dataset)["chunks"][split]


#: wildcard pattern of a split seed
SEED = r"-?\d+"


def split_seeds(dataset):
    """A dataset's split seeds: its fit's split_seeds (the dataset's split seed when it is not
    fitted).  The first is the fit's seed for figures, MD and properties."""
    if dataset in config.get("fits", {}):
        return fit_settings(dataset)["split_seeds"]
    return [dataset_settings(dataset)["split"]["seed"]]


def fit_dir(dataset, seed=None):
    """results/fits/<dataset>/seed<seed>: a split seed's systems, paths, models and errors
    (default: the first split seed)."""
    return f"results/fits/{dataset}/seed{split_seeds(dataset)[0] if seed is None else seed}"


def seed_note(datasets):
    """What the footer of a figure or table of one seed's models adds when a dataset has several
    split seeds: the seed shown."""
    several = [d for d in datasets if len(split_seeds(d)) > 1]
    return "".join(f"; {d}: split seed {split_seeds(d)[0]} (first of {split_seeds(d)})"
                   for d in several)


def design_rows_files(dataset):
    """The design rows of every chunk of the dataset's training and validation files, from
    which every split seed's systems are reduced."""
    return [f"results/fits/{dataset}/design/{split}.chunk{chunk}.rows.npz"
            for split in ("train", "val") for chunk in range(chunk_count(dataset, split))]


def basis_size(path) -> int:
    """Number of functions of a basis file (basis.json)."""
    return json.loads(Path(path).read_text())["size"]


def factor_mb(input, copies: int, extra_mb: int = 500) -> int:
    """Memory (MB) of a job holding ``copies`` (n+1) x (n+1) float64 matrices (design factors,
    Gram matrices), n = functions of the job's basis (input ``basis``): the one place where
    memory is sized (8 (n+1)^2 bytes: 226 MB for Zuo's 5,317 functions, 1.5 GB for GAP-Si's
    13,718, 2.5 GB for water's 17,634)."""
    return int(matrices_gb(basis_size(input.basis), copies) * 1e3 + extra_mb)


@functools.lru_cache
def _chunk_rows_gb(structures, nchunks, nfunctions):
    return chunk_rows_gb(structures, nchunks, nfunctions)


def chunk_rows_mb(w, input, extra_mb: int = 500) -> int:
    """Memory (MB) of a design_chunk job: the design rows of its chunk, which it holds to write
    them (fitting.chunk_rows_gb; 0.44 GB per chunk of Zuo Ni's training set at 5,317
    functions)."""
    gb = _chunk_rows_gb(input.structures, chunk_count(w.dataset, w.split), basis_size(input.basis))
    return int(gb[int(w.chunk)] * 1e3 + extra_mb)


def gather_mb(input) -> int:
    """Memory (MB) of a design_gather job: its design factors and the largest chunk of rows,
    loaded one at a time (a rows file holds its arrays uncompressed)."""
    return factor_mb(input, JOB_MATRICES["design"]) + int(
        max(os.path.getsize(f) for f in input.rows) / 1e6)


def solve_minutes(input) -> int:
    """Run time (min) of a solver job: 4 h at Zuo's 5,317 functions, growing as n^2.5 (about
    2 days at GAP-Si's 13,718, 3.5 days at water's 17,634)."""
    return max(240, int(240 * (basis_size(input.basis) / 5317) ** 2.5))


def md_runs():
    """(dataset, model, temperature, start) of every run; start k is the k-th configuration of
    sparseace.md.start_configurations on the dataset's test set (repeated to md.min_atoms)."""
    md = config["md"]
    return [(ds, model, T, k) for ds, models in md["runs"].items() for model in models
            for T in md["temperatures"] for k in range(md["starts"])]


def md_settings(dataset):
    return {**config["md"]["settings"], **config["md"].get("per_dataset", {}).get(dataset, {})}


def md_job(dataset):
    """MPI ranks and time limit (min) of a dataset's runs."""
    return {"ranks": 1, "runtime_min": 720, **config["md"].get("jobs", {}).get(dataset, {})}


def figure_specs():
    """name -> spec of every figure and table (Table I lists the run's solvers by default)."""
    used = [s for s in SOLVERS if any(s in f["solvers"] for f in config["fits"].values())]
    return {"table1": {"solvers": used}, **config["figures"]}


def figure_and_table_files():
    exts = {"figure": ("png", "pdf"), "table": ("csv", "md", "tex")}
    return ([f"results/{study.DEFINITIONS[n].kind}s/{n}.{ext}" for n in figure_specs()
             for ext in exts[study.DEFINITIONS[n].kind]]
            + [f"results/tables/md_stability.{ext}" for ext in exts["table"]])
