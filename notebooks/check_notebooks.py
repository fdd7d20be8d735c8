#!/usr/bin/env python3
"""Check the committed notebooks: valid nbformat, no outputs or execution counts (outputs belong to the
data directory, not to git), a markdown question first and a cell tagged `parameters`.
(The same as `jupyter nbconvert --clear-output` or nbstripout, without more dependencies.)

    python notebooks/check_notebooks.py          # check (CI); exit 1 on a problem
    python notebooks/check_notebooks.py --fix    # strip outputs and execution counts in place
"""
import sys
from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent


def main(argv):
    fix = "--fix" in argv
    problems = []
    notebooks = sorted(p for p in HERE.glob("*.ipynb"))
    for path in notebooks:
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
        dirty = False
        for i, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            if cell.outputs or cell.execution_count is not None or "execution" in cell.metadata:
                dirty = True
                if fix:
                    cell.outputs, cell.execution_count = [], None
                    cell.metadata.pop("execution", None)
                else:
                    problems.append(f"{path.name}: cell {i} has outputs, an execution count or timings")
        if set(nb.metadata.get("language_info", {})) - {"name"}:
            dirty = True
            if fix:
                nb.metadata["language_info"] = {"name": "python"}
            else:
                problems.append(f"{path.name}: language_info holds more than the name (from a run)")
        if fix and dirty:
            nbformat.write(nb, path)
            print("stripped", path.name)
        if not nb.cells or nb.cells[0].cell_type != "markdown":
            problems.append(f"{path.name}: the first cell must be markdown stating the question")
        if not any("parameters" in c.metadata.get("tags", []) for c in nb.cells):
            problems.append(f"{path.name}: no cell tagged `parameters`")
    for p in problems:
        print("check_notebooks:", p, file=sys.stderr)
    if problems and not fix:
        print("check_notebooks: strip outputs with `python notebooks/check_notebooks.py --fix`", file=sys.stderr)
        return 1
    print(f"check_notebooks: {len(notebooks)} notebooks clean")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
