# Silicon properties of models fitted to the GAP-Si data.
# (a config without properties, e.g. one restricted by `only` to other datasets, has none)


if "properties" in config:

    rule si_properties:
        input:
            model=lambda w: f"{fit_dir(w.dataset)}/models/{w.model}.json",  # first split seed
        output:
            "results/properties/{dataset}/{model}.json",
        params:
            settings=config["properties"]["settings"],
            protocol=config["properties"]["protocol"],
        log:
            "logs/si_properties/{dataset}.{model}.log",
        benchmark:
            "logs/benchmarks/si_properties/{dataset}.{model}.tsv"
        resources:
            mem_mb=4000,
            runtime=720,
        script:
            "../scripts/si_properties.py"
