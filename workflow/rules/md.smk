# MD stability runs of selected models, and their summary table.


def md_runs():
    return [(ds, model, T) for ds, models in config["md"]["runs"].items() for model in models
            for T in config["md"]["temperatures"]]


def md_settings(dataset):
    return {**config["md"]["settings"], **config["md"].get("per_dataset", {}).get(dataset, {})}


rule md_run:
    input:
        model="results/fits/{dataset}/models/{model}.json",
        structures="results/data/{dataset}/test.xyz",
    output:
        verdict="results/md/{dataset}/{model}_{T}K/verdict.json",
        thermo="results/md/{dataset}/{model}_{T}K/thermo.csv",
        trajectory="results/md/{dataset}/{model}_{T}K/trajectory.xyz",
    wildcard_constraints:
        T=r"\d+",
    params:
        settings=lambda w: md_settings(w.dataset),
    log:
        "logs/md_run/{dataset}.{model}.{T}K.log",
    resources:
        mem_mb=2000,
        runtime=720,
    script:
        "../scripts/md_run.py"


rule md_summary:
    input:
        [f"results/md/{ds}/{model}_{T}K/verdict.json" for ds, model, T in md_runs()],
    output:
        report(multiext("results/tables/md_stability", ".csv", ".md", ".tex"),
               caption="../report/md_stability.rst", category="Tables"),
    params:
        label=lambda w: run_label(sorted(config["md"]["runs"])),
    log:
        "logs/md_summary.log",
    script:
        "../scripts/md_summary.py"
