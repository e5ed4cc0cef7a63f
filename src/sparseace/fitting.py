"""One fit from structures to a model, in one process tree: the design reduced chunk by chunk
(optionally in several processes), one solver's checkpoints, the selected model with its
provenance.

The workflow runs the same steps as separate jobs (``workflow/rules/fit.smk``); the command
line (``sparseace fit``) runs them here.  Peak memory does not grow with the number of
configurations: each process holds one chunk's triangular accumulator (two (n+1) x (n+1)
arrays for n basis functions) and one configuration's rows, and the parent folds the chunk
factors in chunk order, at most ``2 * jobs`` of them waiting.

Design rows are computed with one BLAS thread per process: numpy and scipy load separate
OpenBLAS libraries, and the idle threads of one spinning while the other works made
``design.assemble`` 4-20x slower on a busy 2-core machine (60 Zuo Mo configurations, 383
functions: 8.7 s and 63.5 s with the default threads, 2.0 s and 2.9 s with one).
"""

from __future__ import annotations

import logging
import multiprocessing
from collections import deque
from concurrent.futures import ProcessPoolExecutor, wait

from threadpoolctl import threadpool_limits

from .basis import ACEBasis
from .design import DesignFactor, assemble, chunk_bounds, combine, max_rows, smoothness_prior
from .io import frame_sizes
from .model import ACEPotential
from .provenance import package_versions
from .solvers import Checkpoints, FitSpec, LstsqSystem, get_solver

log = logging.getLogger(__name__)

#: refusal limits of a fit's size (``sparseace fit --max-functions/--max-memory-gb``, a workflow
#: configuration's ``limits``); the study's largest basis has 17,634 functions
MAX_FUNCTIONS = 25_000
MAX_MEMORY_GB = 32.0
#: (n+1) x (n+1) float64 matrices a workflow job holds at once (workflow/rules/fit.smk): a
#: design job its accumulator (factor and row buffer) and the factors it folds or writes; a
#: solve job the training and validation factors and the solver's work arrays
JOB_MATRICES = {"design": 4, "solve": 6}


def matrices_gb(nfunctions: int, count: int) -> float:
    """GB of ``count`` (n+1) x (n+1) float64 matrices, n = ``nfunctions``."""
    return count * 8 * (nfunctions + 1) ** 2 / 1e9


def chunk_rows_gb(structures, nchunks: int, nfunctions: int) -> list[float]:
    """GB of the design rows of each of the ``nchunks`` chunks of an extxyz file (a design_chunk
    job of the workflow; ``design.design_rows``) for a basis of ``nfunctions`` functions: at
    most ``max_rows`` float64 rows per configuration, plus three copies of the largest
    configuration's rows while it is evaluated."""
    sizes = frame_sizes(structures)
    largest = 3 * max_rows(max(sizes, default=0))
    return [8 * nfunctions * (sum(max_rows(n) for n in sizes[a:b]) + largest) / 1e9
            for a, b in chunk_bounds(len(sizes), nchunks)]


def fit_matrices(jobs: int) -> int:
    """The (n+1) x (n+1) matrices ``sparseace fit`` holds at most at once: reducing the design,
    an accumulator (factor and row buffer) in each of ``jobs`` processes and in the parent, up
    to 2 x ``jobs`` chunk factors waiting to be folded and the one folded (``reduce_design``);
    solving, as a workflow solve job."""
    return max(4 * jobs + 3, JOB_MATRICES["solve"])


def fit_size(elements, order, totaldegree, options: dict, matrices: int,
             max_functions: int = MAX_FUNCTIONS, max_memory_gb: float = MAX_MEMORY_GB,
             names: dict | None = None) -> tuple[int, float]:
    """(functions, GB of ``matrices`` design factors) of a fit's basis, counted without
    building it; ValueError when either is above its limit, naming the limit as ``names``
    labels it ("max_functions", "max_memory_gb" by default) and the basis options' mistakes."""
    from .basis import basis_size

    label = {"max_functions": "max_functions", "max_memory_gb": "max_memory_gb", **(names or {})}
    n = basis_size(elements, order, totaldegree, limit=max_functions, **options)
    if n > max_functions:
        raise ValueError(f"{label['max_functions']} {max_functions}: the basis (elements "
                         f"{list(elements)}, order {order}, total degree {totaldegree}) has more "
                         f"than {max_functions} functions; lower the total degree or the order, "
                         "or raise the limit")
    gb = matrices_gb(n, matrices)
    if gb > max_memory_gb:
        raise ValueError(f"{label['max_memory_gb']} {max_memory_gb:g}: a basis of {n} functions "
                         f"needs about {gb:.3g} GB at once ({matrices} design factors of "
                         f"({n}+1)^2 float64 numbers); lower the total degree or the order, "
                         "or raise the limit")
    return n, gb


def _counted(frames, on_frame):
    """Yield ``frames``, calling ``on_frame()`` after each."""
    for atoms in frames:
        yield atoms
        on_frame()


_worker: dict = {}


def _init_worker(basis_dict, eref, weights, counter) -> None:
    threadpool_limits(1)
    _worker.update(basis=ACEBasis.from_dict(basis_dict), eref=eref, weights=weights,
                   counter=counter)


def _count_in_worker() -> None:
    with _worker["counter"].get_lock():
        _worker["counter"].value += 1


def _assemble_in_worker(frames, source, meta) -> DesignFactor:
    return assemble(_worker["basis"], _counted(frames, _count_in_worker), _worker["eref"],
                    _worker["weights"], source=source, meta=meta)


def reduce_design(basis: ACEBasis, frames, eref: dict, weights: dict | None = None,
                  chunk_configs: int | None = None, jobs: int = 1, source: str = "<frames>",
                  on_progress=None) -> DesignFactor:
    """The ``DesignFactor`` of ``frames``: ``design.assemble`` on chunks of ``chunk_configs``
    configurations (default: one chunk per process), in ``jobs`` processes, folded in chunk
    order with ``design.combine``.  ``on_progress(done)`` receives the number of
    configurations reduced so far (now and then, and at the end)."""
    if jobs < 1:
        raise ValueError(f"jobs must be at least 1, got {jobs}")
    if not len(frames):
        raise ValueError(f"{source}: no configurations")
    chunk_configs = chunk_configs or -(-len(frames) // jobs)
    if chunk_configs < 1:
        raise ValueError(f"chunk_configs must be at least 1, got {chunk_configs}")
    bounds = chunk_bounds(len(frames), -(-len(frames) // chunk_configs))
    report = on_progress or (lambda done: None)
    chunk_meta = [{"chunk": [i, len(bounds), a, b]} for i, (a, b) in enumerate(bounds)]
    if jobs == 1:
        done = [0]

        def step():
            done[0] += 1
            report(done[0])

        with threadpool_limits(1):
            return combine(assemble(basis, _counted(frames[a:b], step), eref, weights,
                                    source=source, meta=meta)
                           for (a, b), meta in zip(bounds, chunk_meta))
    context = multiprocessing.get_context("spawn")
    counter = context.Value("l", 0)
    with ProcessPoolExecutor(jobs, context, _init_worker,
                             (basis.to_dict(), eref, weights, counter)) as pool:

        def factors():
            pending = deque()
            for (a, b), meta in zip(bounds, chunk_meta):
                pending.append(pool.submit(_assemble_in_worker, frames[a:b], source, meta))
                if len(pending) >= 2 * jobs:
                    yield _result(pending.popleft(), counter, report)
            while pending:
                yield _result(pending.popleft(), counter, report)

        factor = combine(factors())
    report(counter.value)
    return factor


def _result(future, counter, report):
    """The future's result, reporting the counter while waiting for it."""
    while not wait([future], timeout=0.5).done:
        report(counter.value)
    return future.result()


def training_factor(train: DesignFactor, val: DesignFactor, train_on: str = "train") -> DesignFactor:
    """The design factor the solvers fit: the training split's (``train_on="train"``), or the
    training and validation splits' together (``"train+val"``, the whole training file)."""
    if train_on == "train":
        return train
    if train_on == "train+val":
        return combine([train, val])
    raise ValueError(f"train_on must be 'train' or 'train+val', got {train_on!r}")


def solve(basis: ACEBasis, train: DesignFactor, val: DesignFactor, prior_p: float, solver: str,
          fit: FitSpec, options: dict | None = None) -> Checkpoints:
    """Checkpoints of ``solver`` on the preconditioned training system (smoothness prior of
    exponent ``prior_p``), validated on ``val``, with physical coefficients c = theta / P;
    ``meta`` records the prior, the options and the package versions."""
    options = dict(options or {})
    prior = smoothness_prior(basis, prior_p)
    train_system = LstsqSystem.from_factor(train, prior)
    val_system = LstsqSystem.from_factor(val, prior)
    entry = get_solver(solver)
    log.info("%s on %d functions, %d training rows, %d validation rows", entry.label, len(basis),
             train_system.nrows, val_system.nrows)
    checkpoints = entry.checkpoints(train_system, val_system, fit, options).rescaled(prior)
    checkpoints.meta.update(solver=solver, prior_p=prior_p, options=options,
                            versions=package_versions())
    log.info("%d checkpoints, sizes %s", len(checkpoints), checkpoints.sizes.tolist())
    return checkpoints


def select_model(checkpoints: Checkpoints, rule: str, basis: ACEBasis, eref: dict,
                 metadata: dict | None = None) -> ACEPotential:
    """The model that ``rule`` selects among ``checkpoints`` (physical coefficients), with the
    selection, the solver and its settings recorded in its metadata besides ``metadata``."""
    i = checkpoints.select(rule)
    meta = checkpoints.meta
    log.info("%s: checkpoint %d with %d active functions", rule, i, checkpoints.sizes[i])
    return ACEPotential(basis, checkpoints.support(i), checkpoints.coef(i), eref, {
        "solver": meta.get("solver", checkpoints.method), "selection": rule, "checkpoint": i,
        "active": int(checkpoints.sizes[i]),
        "validation_rmse": float(checkpoints.val_rmse[i]),
        "solver_settings": meta.get("options", {}), "prior_p": meta.get("prior_p"),
        **(metadata or {})})
