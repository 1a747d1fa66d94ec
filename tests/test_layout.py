"""The package layout holds: dependencies point one way (encoders ← envs ← agents ← cli ←
benchmarks) and no two modules import each other, even through others, when they load.

Read from the source (the AST of every module), not by importing: a circle shows up only when
the circle's modules are imported in a particular order, which an import-everything test hides.
"""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Folder → package (pyproject's package-dir), in dependency order: each may import only those
# before it.
PACKAGES = {"encoders": "driftrec.encoders", "envs": "driftrec.envs", "agents": "driftrec.agents",
            "cli": "driftrec.cli", "benchmarks": "driftrec.benchmarks"}
LAYERS = list(PACKAGES.values())


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    name = ".".join((PACKAGES[parts[0]], *parts[1:]))
    return name.removesuffix(".__init__")


def _modules() -> dict[str, Path]:
    found = {}
    for folder in PACKAGES:
        for path in sorted((ROOT / folder).rglob("*.py")):
            if "peer_loops" not in path.parts:  # scripts run by other interpreters
                found[_module_name(path)] = path
    return found


MODULES = _modules()


def _imports(name: str, path: Path, module_level_only: bool) -> set[str]:
    """The driftrec modules (or packages) that ``name`` imports, relative imports resolved."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    nodes = _top_level(tree.body) if module_level_only else ast.walk(tree)
    found = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("driftrec."))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            if not target.startswith("driftrec."):
                continue
            submodules = {f"{target}.{a.name}" for a in node.names} & MODULES.keys()
            found.update(submodules or {target})
    return found


def _top_level(body: list[ast.stmt]):
    """Statements that run when the module loads: the body, and the bodies of its top-level
    ``if`` / ``try`` blocks (not functions, not ``if TYPE_CHECKING``)."""
    for node in body:
        yield node
        if isinstance(node, ast.If) and "TYPE_CHECKING" not in ast.unparse(node.test):
            yield from _top_level(node.body + node.orelse)
        elif isinstance(node, ast.Try):
            yield from _top_level(node.body + node.orelse + node.finalbody
                                  + [s for h in node.handlers for s in h.body])


def _layer(module: str) -> int:
    return next(i for i, top in enumerate(LAYERS) if module == top or module.startswith(top + "."))


def test_the_wheel_lists_every_package_folder() -> None:
    """A folder missing from pyproject's ``packages`` works in an editable install and is absent
    from a wheel."""
    tomllib = pytest.importorskip("tomllib")
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"][
        "setuptools"]
    assert setuptools["package-dir"] == {top: folder for folder, top in PACKAGES.items()}
    folders = {_module_name(init.parent / "__init__.py") for folder in PACKAGES
               for init in (ROOT / folder).rglob("__init__.py")}
    assert sorted(folders) == sorted(setuptools["packages"])


def test_every_package_folder_is_found() -> None:
    assert {"driftrec.cli.main", "driftrec.envs.model.engine", "driftrec.envs.sources.catalog",
            "driftrec.envs.calibration", "driftrec.benchmarks.throughput"} <= MODULES.keys()


@pytest.mark.parametrize("name", sorted(MODULES))
def test_imports_point_down_the_layers(name: str) -> None:
    """Also lazy imports inside functions: the library never reaches up into the CLI or the
    studies, and the CLI never into the studies."""
    upward = sorted(m for m in _imports(name, MODULES[name], module_level_only=False)
                    if _layer(m) > _layer(name))
    assert upward == [], f"{name} imports {upward}; expected only {LAYERS[: _layer(name) + 1]}"


def test_no_module_level_import_circle() -> None:
    graph = {name: {m for m in _imports(name, path, module_level_only=True) if m in MODULES}
             for name, path in MODULES.items()}
    circles = [c for c in _strongly_connected(graph) if len(c) > 1]
    assert circles == [], f"modules that import each other when they load: {circles}"


def _strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm (iterative), components as sorted lists."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out = []
    for root, children in graph.items():
        if root in index:
            continue
        work = [(root, iter(sorted(children)))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                out.append(sorted(component))
    return out


# Where the modules of #23's layout went; the old paths are gone, not kept as shims.
MOVED = {
    **{f"driftrec.envs.{m}": f"driftrec.envs.model.{m}" for m in (
        "choice", "response", "drift", "satiation", "exogenous", "budget", "engine", "state")},
    **{f"driftrec.envs.{m}": f"driftrec.envs.sources.{m}" for m in (
        "catalog", "personas", "users", "datasets", "builtin")},
    **{f"driftrec.benchmarks.{m}": f"driftrec.cli.{m}" for m in (
        "bench_command", "options", "training", "rllib_training", "realdata", "runner",
        "runfolder", "report", "plots", "metrics")},
    "driftrec.benchmarks.cli": "driftrec.cli.main",
}


@pytest.mark.parametrize("old, new", sorted(MOVED.items()))
def test_a_moved_module_has_one_path(old: str, new: str) -> None:
    """Also catches a folder left behind with only ``__pycache__`` in it, which Python would
    import as an empty namespace package."""
    assert importlib.util.find_spec(old) is None, f"{old} still importable; it moved to {new}"
    assert new in MODULES
