"""The code's rooms: imports run one way (no cycle, no import against the layering), and library files and
functions stay small enough to read. Read from the source with `ast`, so a function-local import counts
as much as a top-level one."""
import ast
from pathlib import Path

import networkx as nx
import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("nas", "search_spaces", "scaling")
MAX_FILE_LINES, MAX_FUNCTION_LINES = 400, 60


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


MODULES = _modules()


def _target(name: str) -> str | None:
    """The project module an import names: the module itself, else its nearest project parent."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _runtime_nodes(tree: ast.AST):
    """Every node except those under `if TYPE_CHECKING:` (imports for type hints only, never run)."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", getattr(node.test, "attr", None)) == "TYPE_CHECKING":
            continue
        yield node
        yield from _runtime_nodes(node)


def _imports(path: Path) -> set[str]:
    """The project modules a file imports at run time, anywhere in it (`from a import b` names a.b when b
    is a module)."""
    names = set()
    for node in _runtime_nodes(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names |= {f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in MODULES else node.module
                      for alias in node.names}
    return {t for t in map(_target, names) if t}


def graph() -> nx.DiGraph:
    g = nx.DiGraph()
    for module, path in MODULES.items():
        g.add_node(module)
        g.add_edges_from((module, t) for t in _imports(path) if t != module)
    return g


def test_no_import_cycle_inside_the_project():
    cycles = list(nx.simple_cycles(graph()))
    assert cycles == [], f"import cycles: {cycles[:5]}"


def test_the_cycle_check_sees_function_local_imports(tmp_path):
    # the check must catch what a function-local import hides from Python at import time
    # (and leaves out imports for type hints only)
    code = ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from nas.cli import main\n"
            "def f():\n    from search_spaces.spec import NetSpec\n")
    path = tmp_path / "m.py"
    path.write_text(code)
    assert _imports(path) == {"search_spaces.spec"}


# (importer prefix, imported prefix): the layering, cli -> search -> training -> search_spaces
FORBIDDEN = [
    ("search_spaces", "nas"), ("search_spaces", "scaling"), ("scaling", "nas"),
    ("nas.training", "nas.search"), ("nas.training", "nas.cli"), ("nas.search", "nas.cli"),
]


@pytest.mark.parametrize("importer,imported", FORBIDDEN)
def test_imports_run_one_way(importer, imported):
    def under(module, prefix):
        return module == prefix or module.startswith(prefix + ".")

    wrong = [(a, b) for a, b in graph().edges if under(a, importer) and under(b, imported)]
    assert wrong == []


def test_nothing_imports_the_cli_but_the_entry_point():
    users = {a for a, b in graph().edges if b == "nas.cli" or b.startswith("nas.cli.")}
    assert {u for u in users if not u.startswith("nas.cli")} <= {"nas.__main__"}


def test_library_files_and_functions_are_small():
    long_files, long_functions = [], []
    for module, path in MODULES.items():
        text = path.read_text()
        if len(text.splitlines()) > MAX_FILE_LINES:
            long_files.append(module)
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                if node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES:
                    long_functions.append(f"{module}.{node.name}")
    assert (long_files, long_functions) == ([], [])
