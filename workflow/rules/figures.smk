# Figures and tables of the study: one rule per entry of the config's `figures` section, drawn
# by the definition of the same name in sparseace.study from the inputs it names.


def input_files(kind, spec):
    """The files of one input kind of a figure/table (curves: a list; others: key -> path);
    models of a fit's first split seed, except seed_errors (every split seed)."""
    ds, models = study.datasets(spec), []
    if kind == "curves":
        return [f"{fit_dir(d)}/curves/{s}.csv" for d in ds for s in study.solvers(spec)
                if s in fit_settings(d)["solvers"]]
    if kind == "checkpoints":
        return {f"{d}/{s}": f"{fit_dir(d)}/paths/{s}.npz" for d in ds
                for s in study.solvers(spec)}
    if kind == "basis":
        return {d: f"results/fits/{d}/basis.json" for d in ds}
    if kind == "model":
        return {f"{d}/{m}": f"{fit_dir(d)}/models/{m}.json" for d in ds
                for m in study.model_ids(spec)}
    if kind == "properties":
        return {m: f"results/properties/{ds[0]}/{m}.json" for m in study.model_ids(spec)}
    if kind == "errors":
        return {**{f"{d}/{m}": f"{fit_dir(d)}/errors/{m}.csv" for d in ds
                   for m in study.model_ids(spec)},
                **{f"{r}/{m}": f"{fit_dir(r)}/errors/{m}.csv"
                   for _, _, r, m in study.refit_models(spec)}}
    if kind == "seed_errors":
        return {f"{d}/{m}/{seed}": f"{fit_dir(d, seed)}/errors/{m}.csv" for d in ds
                for m in study.model_ids(spec) for seed in split_seeds(d)}
    if kind == "literature":
        return LITERATURE
    raise ValueError(f"unknown input kind {kind!r}")


def all_paths(files):
    if isinstance(files, str):
        return [files]
    return list(files.values()) if isinstance(files, dict) else list(files)


def report_outputs(name, kind):
    exts = (".png", ".pdf") if kind == "figure" else (".csv", ".md", ".tex")
    caption = Path(workflow.basedir) / "workflow" / "report" / f"{name}.rst"
    return report(multiext(f"results/{kind}s/{name}", *exts),
                  caption=f"../report/{name}.rst" if caption.exists() else None,
                  category=f"{kind.capitalize()}s")


for _name, _spec in figure_specs().items():
    _definition = study.DEFINITIONS[_name]
    _files = {kind: input_files(kind, _spec) for kind in _definition.inputs}

    rule:
        name:
            f"{_definition.kind}_{_name}"
        input:
            [path for files in _files.values() for path in all_paths(files)],
        output:
            report_outputs(_name, _definition.kind),
        params:
            name=_name,
            spec=_spec,
            files=_files,
            label=run_label(study.datasets(_spec) if _name != "table1"
                            else ["none (method summary)"])
            + ("" if "seed_errors" in _definition.inputs or _name == "table1"
               else seed_note(study.datasets(_spec))),
        log:
            f"logs/{_definition.kind}s/{_name}.log",
        script:
            "../scripts/render.py"
