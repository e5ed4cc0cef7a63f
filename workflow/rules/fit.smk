# Fitting stages: basis -> design rows, chunk by chunk (once) -> per split seed: training and
# validation systems reduced from those rows -> solver paths -> curves and selected models.
# Every split seed of a fit (fits.<dataset>.split_seeds) reduces the same design rows.
#
# results/fits/{dataset}/basis.json, basis_sizes.csv
# results/fits/{dataset}/design/{split}.chunk{chunk}.rows.npz   (temporary: weighted rows of a
#                         chunk of data/{dataset}/{split}.xyz; used by every split seed)
# results/fits/{dataset}/design/test_energy_rows.npz
# results/fits/{dataset}/seed{seed}/design/{split}.npz      (split: train, val of that seed)
# results/fits/{dataset}/seed{seed}/paths/{solver}.npz      (checkpoints with validation RMSE)
# results/fits/{dataset}/seed{seed}/curves/{solver}.csv     (validation RMSE, test energy
#                                                             errors per checkpoint)
# results/fits/{dataset}/seed{seed}/models/{solver}-{size}.json   (the model of <size>
#                                                             functions; -all: the last)
# results/fits/{dataset}/seed{seed}/errors/{solver}-{size}.csv    (test errors per
#                                                             config_type and overall)

from sparseace.design import FACTOR_FORMAT


rule basis:
    output:
        basis="results/fits/{dataset}/basis.json",
        sizes="results/fits/{dataset}/basis_sizes.csv",
    params:
        fit=lambda w: fit_settings(w.dataset),
        elements=lambda w: dataset_settings(w.dataset)["elements"],
    log:
        "logs/basis/{dataset}.log",
    resources:
        mem_mb=2000,
        runtime=10,
    script:
        "../scripts/basis.py"


rule design_chunk:
    input:
        structures="results/data/{dataset}/{split}.xyz",
        split="results/data/{dataset}/split.json",
        basis="results/fits/{dataset}/basis.json",
    output:
        temp("results/fits/{dataset}/design/{split}.chunk{chunk}.rows.npz"),
    wildcard_constraints:
        split="train|val",
        chunk=r"\d+",
    params:
        chunks=lambda w: chunk_count(w.dataset, w.split),
        eref=lambda w: dataset_settings(w.dataset)["eref"],
        weights=lambda w: dataset_settings(w.dataset)["weights"],
    log:
        "logs/design_chunk/{dataset}.{split}.{chunk}.log",
    benchmark:
        "logs/benchmarks/design_chunk/{dataset}.{split}.{chunk}.tsv"
    resources:
        mem_mb=chunk_rows_mb,
        runtime=480,
    script:
        "../scripts/design_chunk.py"


rule design_gather:
    input:
        rows=lambda w: design_rows_files(w.dataset),
        split="results/data/{dataset}/split.json",
        basis="results/fits/{dataset}/basis.json",
    output:
        "results/fits/{dataset}/seed{seed}/design/{split}.npz",
    wildcard_constraints:
        dataset=r"[^/]+",
        seed=SEED,
        split="train|val",
    params:
        format=FACTOR_FORMAT,  # a new format rebuilds older factors (Snakemake's params trigger)
    log:
        "logs/design_gather/{dataset}.seed{seed}.{split}.log",
    benchmark:
        "logs/benchmarks/design_gather/{dataset}.seed{seed}.{split}.tsv"
    threads: 2
    resources:
        mem_mb=lambda w, input: gather_mb(input),
        runtime=480,
    script:
        "../scripts/design_gather.py"


rule energy_rows:
    input:
        structures="results/data/{dataset}/test.xyz",
        basis="results/fits/{dataset}/basis.json",
    output:
        "results/fits/{dataset}/design/test_energy_rows.npz",
    params:
        eref=lambda w: dataset_settings(w.dataset)["eref"],
    log:
        "logs/energy_rows/{dataset}.log",
    resources:
        mem_mb=4000,
        runtime=240,
    script:
        "../scripts/energy_rows.py"


rule solve:
    input:
        train="results/fits/{dataset}/seed{seed}/design/train.npz",
        val="results/fits/{dataset}/seed{seed}/design/val.npz",
        basis="results/fits/{dataset}/basis.json",
    output:
        "results/fits/{dataset}/seed{seed}/paths/{solver}.npz",
    wildcard_constraints:
        dataset=r"[^/]+",
        seed=SEED,
        solver="|".join(SOLVERS),
    params:
        fit=lambda w: fit_settings(w.dataset),
        options=lambda w: config["solvers"][w.solver],
    log:
        "logs/solve/{dataset}.seed{seed}.{solver}.log",
    benchmark:
        "logs/benchmarks/solve/{dataset}.seed{seed}.{solver}.tsv"
    threads: 2
    resources:
        mem_mb=lambda w, input: factor_mb(input, JOB_MATRICES["solve"], 1000),
        runtime=lambda w, input: solve_minutes(input),
    script:
        "../scripts/solve.py"


rule curve:
    input:
        path="results/fits/{dataset}/seed{seed}/paths/{solver}.npz",
        test_rows="results/fits/{dataset}/design/test_energy_rows.npz",
    output:
        "results/fits/{dataset}/seed{seed}/curves/{solver}.csv",
    wildcard_constraints:
        dataset=r"[^/]+",
        seed=SEED,
    log:
        "logs/curve/{dataset}.seed{seed}.{solver}.log",
    script:
        "../scripts/curve.py"


rule select_model:
    input:
        path="results/fits/{dataset}/seed{seed}/paths/{solver}.npz",
        basis="results/fits/{dataset}/basis.json",
        split="results/data/{dataset}/split.json",
    output:
        "results/fits/{dataset}/seed{seed}/models/{solver}-{size}.json",
    wildcard_constraints:
        dataset=r"[^/]+",
        seed=SEED,
        size=r"\d+|all",
    params:
        eref=lambda w: dataset_settings(w.dataset)["eref"],
        selection=lambda w: fit_settings(w.dataset)["selection"],
    log:
        "logs/select_model/{dataset}.seed{seed}.{solver}-{size}.log",
    script:
        "../scripts/select_model.py"


rule model_errors:
    input:
        model="results/fits/{dataset}/seed{seed}/models/{model}.json",
        structures="results/data/{dataset}/test.xyz",
    output:
        "results/fits/{dataset}/seed{seed}/errors/{model}.csv",
    wildcard_constraints:
        dataset=r"[^/]+",
        seed=SEED,
    log:
        "logs/model_errors/{dataset}.seed{seed}.{model}.log",
    script:
        "../scripts/model_errors.py"
