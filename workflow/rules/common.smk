# Shared helpers: validated config, dataset and source paths, the list of final outputs.
from pathlib import Path

from sparseace.config import validate_config
from sparseace.solvers import SOLVERS

validate_config(config, "workflow config")  # also imports the config's solver_plugins


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
