"""Print basis sizes per correlation order and centre species.

    python -m sparseace.basis --elements Si --order 4 --totaldegree 23
"""

from __future__ import annotations

import argparse
import time

from .ace import ACEBasis


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m sparseace.basis", description=__doc__.split("\n")[0])
    parser.add_argument("--elements", nargs="+", required=True, help="element symbols, e.g. H O")
    parser.add_argument("--order", type=int, required=True, help="maximal correlation order (2-4)")
    parser.add_argument("--totaldegree", type=float, nargs="+", required=True,
                        help="total degree, or one per correlation order 1..order")
    args = parser.parse_args(argv)
    degree = args.totaldegree[0] if len(args.totaldegree) == 1 else args.totaldegree
    start = time.perf_counter()
    basis = ACEBasis(args.elements, args.order, degree)
    elapsed = time.perf_counter() - start
    table = basis.size_table().pivot_table(index=["kind", "order"], columns="centre",
                                           values="functions", aggfunc="sum", fill_value=0)
    table["all centres"] = table.sum(axis=1)
    print(f"ACE basis: elements {basis.elements}, order {basis.order}, "
          f"total degree {basis.totaldegree}, cutoff {basis.cutoff:.3f} Å")
    print(table.to_string())
    print(f"total: {len(basis)} functions (built in {elapsed:.1f} s)")


if __name__ == "__main__":
    main()
