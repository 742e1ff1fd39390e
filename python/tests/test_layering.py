"""Python imports flow one way, like the TypeScript side (tests/imports.test.ts): uniap_torch (shared
layers and collectives) <- uniap_measure (profiler) and uniap_exec (executor). uniap_torch imports
neither; the profiler does not import the executor. Imports are read with `ast` from every file,
including ones inside functions and relative imports."""
from __future__ import annotations

import ast
from pathlib import Path
from typing import Iterator, List, Optional, Set, Tuple

from conftest import PY_DIR, REPO_DIR

TORCH_PKG = PY_DIR / "uniap_torch"
MEASURE_PKG = REPO_DIR / "profiler" / "measure" / "py" / "uniap_measure"
EXEC_PKG = REPO_DIR / "runtime" / "executor" / "uniap_exec"


def py_files(pkg: Path) -> List[Path]:
    return sorted(p for p in pkg.rglob("*.py") if "__pycache__" not in p.parts)


def _module_of(file: Path, root: Path) -> List[str]:
    """Package path of `file` relative to the folder holding its top-level package, e.g. ['uniap_torch', 'comm']."""
    parts = list(file.relative_to(root).with_suffix("").parts)
    return parts[:-1] if parts[-1] == "__init__" else parts


def imports(file: Path, root: Path) -> Iterator[Tuple[int, str]]:
    """(line, absolute module name) of every import in `file`; relative imports resolved against its package."""
    tree = ast.parse(file.read_text(encoding="utf-8"), filename=str(file))
    package = _module_of(file, root)
    if file.name != "__init__.py":
        package = package[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                base: Optional[str] = node.module
            else:
                up = package[: len(package) - (node.level - 1)] if node.level > 1 else package
                base = ".".join(up + ([node.module] if node.module else []))
            if base:
                yield node.lineno, base
                for alias in node.names:  # `from pkg import module`
                    yield node.lineno, f"{base}.{alias.name}"
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", None)) in ("import_module", "__import__"):
            if node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
                yield node.lineno, node.args[0].value


def violations(pkg: Path, forbidden: Set[str]) -> List[str]:
    """'file:line imports name' for each import in package folder `pkg` of a module under `forbidden`."""
    bad = []
    for f in py_files(pkg):
        for line, name in imports(f, pkg.parent):
            if name.split(".")[0] in forbidden:
                bad.append(f"{f.relative_to(pkg.parent)}:{line} imports {name}")
    return bad


def test_the_packages_are_where_the_checks_look():
    for pkg in (TORCH_PKG, MEASURE_PKG, EXEC_PKG):
        assert (pkg / "__init__.py").is_file(), pkg
    assert len(py_files(TORCH_PKG)) >= 3


def test_uniap_torch_imports_neither_the_executor_nor_the_profiler():
    assert violations(TORCH_PKG, {"uniap_exec", "uniap_measure"}) == []


def test_the_profiler_does_not_import_the_executor():
    assert violations(MEASURE_PKG, {"uniap_exec"}) == []


def test_the_check_sees_imports_of_every_form(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("from .. import sibling\n")
    (pkg / "sub" / "mod.py").write_text(
        "import os\n"
        "def f():\n"
        "    import uniap_exec.main\n"
        "    from uniap_measure import stats\n"
        "    return __import__('uniap_exec')\n"
        "from ..other import thing\n"
        "import importlib\n"
        "importlib.import_module('uniap_measure.probe')\n")
    found = {name for _, name in imports(pkg / "sub" / "mod.py", tmp_path)}
    assert {"os", "uniap_exec.main", "uniap_measure", "uniap_measure.stats", "uniap_exec", "pkg.other",
            "pkg.other.thing", "uniap_measure.probe"} <= found
    assert {name for _, name in imports(pkg / "sub" / "__init__.py", tmp_path)} == {"pkg", "pkg.sibling"}
    assert [v.split(" imports ")[0] for v in violations(pkg, {"uniap_exec"})] == ["pkg/sub/mod.py:3", "pkg/sub/mod.py:5"]
