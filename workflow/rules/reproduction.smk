# The reproduction report: the study's published numbers (Tables II-IV) next to ours and its
# claims checked from our results (sparseace.reproduction).


def reproduction_files():
    """Inputs of the report by kind; a kind is absent when the config makes no such output."""
    specs = config["figures"]
    files = {"literature": LITERATURE, "md": "results/tables/md_stability.csv",
             "errors": {}, "properties": {}, "curves": {}}
    if "table2" in specs:
        files["table2"] = "results/tables/table2.csv"
    for name, kind in (("table2", "errors"), ("table4", "errors"), ("table3", "properties"),
                       ("fig5", "properties"), ("fig1", "curves"), ("fig4", "curves"),
                       ("fig6", "curves")):
        if name in specs:
            found = input_files(kind, specs[name])
            files[kind].update({name: found} if kind == "curves" else found)
    return files


def flat_paths(files):
    """Every path of nested dicts and lists of paths."""
    if isinstance(files, str):
        return [files]
    return [p for f in (files.values() if isinstance(files, dict) else files)
            for p in flat_paths(f)]


rule reproduction:
    input:
        flat_paths(reproduction_files()),
    output:
        report(multiext("results/reproduction", ".md", ".csv"),
               caption="../report/reproduction.rst", category="Reproduction"),
    params:
        files=reproduction_files(),
        study=config["study"],
        only=config.get("only"),
        figures=config["figures"],
        settings=config["reproduction"],
    log:
        "logs/reproduction.log",
    script:
        "../scripts/reproduction.py"
