"""The house: imports run one way (portal ← teams ← prompts ← approvals ← demo), a parent app
never imports its sub-app, nothing imports inside a function to dodge a cycle, and the
migrations depend on each other in the same direction, without a circle."""

import ast
import sys
from pathlib import Path

import pytest
from django.db.migrations.loader import MigrationLoader

ROOT = Path(__file__).resolve().parent.parent
# Bottom to top. A sub-app (portal.audit) sits just above its parent.
LAYERS = ["portal", "portal.audit", "teams", "teams.notifications", "prompts", "prompts.metrics"]
LAYERS += ["prompts.evaluations"]
LAYERS += ["approvals", "integrations", "demo"]
MIGRATION_APPS = {"portal": "portal", "audit": "portal.audit", "teams": "teams"}
MIGRATION_APPS |= {"notifications": "teams.notifications"}
MIGRATION_APPS |= {"prompts": "prompts", "approvals": "approvals"}
MIGRATION_APPS |= {"metrics": "prompts.metrics", "evaluations": "prompts.evaluations"}


def layer_of(module: str) -> str | None:
    """The layer a dotted module name belongs to (the longest matching prefix)."""
    matches = [layer for layer in LAYERS if module == layer or module.startswith(f"{layer}.")]
    return max(matches, key=len) if matches else None


def modules() -> list[tuple[str, Path]]:
    found = []
    for top in ("portal", "teams", "prompts", "approvals", "integrations", "demo"):
        for path in sorted((ROOT / top).rglob("*.py")):
            if "migrations" not in path.parts:
                dotted = ".".join(path.relative_to(ROOT).with_suffix("").parts)
                found.append((dotted.removesuffix(".__init__"), path))
    return found


def imports_of(path: Path, module: str) -> list[tuple[str, int, bool]]:
    """(imported module, line, inside a function) for every import of the file."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            nested = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            if isinstance(child, ast.Import):
                found.extend((alias.name, child.lineno, in_function) for alias in child.names)
            elif isinstance(child, ast.ImportFrom) and child.level == 0 and child.module:
                found.append((child.module, child.lineno, in_function))
                found.extend(
                    (f"{child.module}.{alias.name}", child.lineno, in_function)
                    for alias in child.names
                )
            visit(child, nested)

    visit(tree, False)
    return found


def upward_imports(found: list[tuple[str, Path]]) -> list[str]:
    problems = []
    for module, path in found:
        own = LAYERS.index(layer_of(module))
        for imported, line, _ in imports_of(path, module):
            layer = layer_of(imported)
            if layer is not None and LAYERS.index(layer) > own:
                problems.append(f"{module}:{line} imports {imported}")
    return sorted(set(problems))


def test_no_app_imports_an_app_above_it():
    assert upward_imports(modules()) == []


@pytest.mark.parametrize(
    ("module", "source", "upward"),
    [
        ("teams.planted", "from prompts.models import Prompt\n", True),
        ("portal.planted", "def f():\n    from portal.audit import services\n", True),
        ("prompts.planted", "from teams import permissions\n", False),
        ("portal.audit.planted", "from portal.errors import Conflict\n", False),
    ],
)
def test_the_check_tells_upward_imports_from_downward_ones(tmp_path, module, source, upward):
    planted = tmp_path / "planted.py"
    planted.write_text(source)

    assert bool(upward_imports([(module, planted)])) is upward


def test_no_import_inside_a_function_except_in_app_ready():
    """Django's AppConfig.ready is where models may first be imported; anywhere else an
    import inside a function hides a dependency (usually a cycle being dodged)."""
    problems = []
    for module, path in modules():
        ready_lines = set()
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef) and node.name == "ready":
                ready_lines |= set(range(node.lineno, node.end_lineno + 1))
        for imported, line, in_function in imports_of(path, module):
            if in_function and layer_of(imported) and line not in ready_lines:
                problems.append(f"{path.relative_to(ROOT)}:{line} imports {imported}")
    assert problems == []


@pytest.mark.django_db
def test_migrations_depend_only_downward_and_form_no_circle():
    loader = MigrationLoader(None, ignore_no_migrations=True)
    edges = set()
    for (app, _), migration in loader.disk_migrations.items():
        if app not in MIGRATION_APPS:
            continue
        for dependency_app, _ in migration.dependencies:
            if dependency_app in MIGRATION_APPS and dependency_app != app:
                edges.add((app, dependency_app))

    upward = [
        (app, dependency)
        for app, dependency in edges
        if LAYERS.index(MIGRATION_APPS[dependency]) > LAYERS.index(MIGRATION_APPS[app])
    ]
    assert upward == []
    for app in MIGRATION_APPS:
        names = sorted(name for label, name in loader.disk_migrations if label == app)
        leaves = loader.graph.leaf_nodes(app)
        assert len(leaves) <= 1, f"{app} has branches: {leaves}"
        assert [n for n in names if n.startswith("0001")] == names[:1], f"{app}: {names}"


ALLOWED_IN_CLIENT = {"httpx", "jinja2", "promptportal"}


def client_imports(package: Path) -> list[str]:
    """What the client SDK imports beyond the standard library, its two dependencies and
    itself: it must install and run on its own, beside no portal app."""
    problems = []
    for path in sorted(package.rglob("*.py")):
        for imported, line, _ in imports_of(path, ""):
            top = imported.split(".")[0]
            if top not in ALLOWED_IN_CLIENT and top not in sys.stdlib_module_names:
                problems.append(f"{path.name}:{line} imports {imported}")
    return sorted(set(problems))


def test_the_client_imports_only_the_standard_library_httpx_and_jinja2(tmp_path):
    assert client_imports(ROOT / "client" / "promptportal") == []

    (tmp_path / "planted.py").write_text("import json\nimport httpx\nfrom prompts import models\n")
    assert client_imports(tmp_path) == [
        "planted.py:3 imports prompts",
        "planted.py:3 imports prompts.models",
    ]
