"""The shape of the code: small modules, short functions, and imports that only go down.

The layers, top to bottom (docs/architecture.md draws them): the command line
(`cli.py`, `commands/`), the Dagster definitions (`definitions.py`, `defs/`), the optional
instance plugin (`instance/`), the engine (`sync/`), the checks' logic (`checks/`), the API
client and the store (`api/`, `store/`), and what everything shares (settings, names,
timings, lean). The simulator is beside them: the demo and the tests use it, and the
code reaches it only when it was asked for.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "testio_assets"
MAX_MODULE_LINES = 350
MAX_FUNCTION_LINES = 60

BOTTOM = {"settings", "names", "timings", "lean"}
ENGINE = {"api", "store", "sync", "checks"}
# What each part may import from the project, besides itself and the bottom layer.
ALLOWED: dict[str, set[str]] = {
    "settings": set(),
    "names": set(),
    "timings": set(),
    "lean": set(),
    "api": set(),
    # The store turns parsed API records into rows: it knows the models, not the client.
    "store": {"api.models", "api.bug_parts"},
    "checks": {"store"},
    "sync": {"api", "store", "checks"},
    # The definitions use the engine; the simulator only when asked for (resources.py),
    # the plugin only when the instance uses it (check_events.py).
    "defs": ENGINE | {"simulator.embedded", "instance.check_targets"},
    "definitions": {"defs"},
    # The plugin knows Dagster's storage, and which check evaluations the steps record.
    "instance": {"defs.assets.check_events"},
    "commands": ENGINE | {"defs", "simulator", "instance"},
    "cli": {"commands"},
    "simulator": {"api.client"},
}
# The engine's modules that are Dagster resources (configuration, the UI shows them);
# no other engine module imports Dagster.
DAGSTER_IN_ENGINE = {"api/client.py", "store/database.py"}


def modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def part_of(module: str) -> str:
    """`api.session` -> `api`; top-level modules are parts of their own."""
    return module.split(".")[0]


def project_imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    prefix = "testio_assets."
    return {name[len(prefix) :] for name in names if name.startswith(prefix)}


def test_no_module_is_too_long() -> None:
    lengths = {p.relative_to(PACKAGE): len(p.read_text().splitlines()) for p in modules()}
    too_long = {str(p): n for p, n in lengths.items() if n >= MAX_MODULE_LINES}
    assert not too_long, f"modules of {MAX_MODULE_LINES} lines or more: {too_long}"


def test_no_function_is_too_long() -> None:
    too_long = []
    for path in modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    too_long.append(f"{path.relative_to(PACKAGE)}:{node.name} ({length})")
    assert not too_long, f"functions over {MAX_FUNCTION_LINES} lines: {too_long}"


@pytest.mark.parametrize("part", sorted(ALLOWED))
def test_imports_only_go_down(part: str) -> None:
    allowed = ALLOWED[part] | BOTTOM | {part}
    wrong = []
    for path in modules():
        module = ".".join(path.relative_to(PACKAGE).with_suffix("").parts)
        if part_of(module) != part:
            continue
        for name in project_imports(path):
            if not any(name == a or name.startswith(a + ".") for a in allowed):
                wrong.append(f"{module} imports {name}")
    assert not wrong, wrong


def test_the_engine_does_not_import_dagster() -> None:
    found = set()
    for path in modules():
        relative = path.relative_to(PACKAGE)
        if relative.parts[0] not in ENGINE:
            continue
        imported = {f"testio_assets.{n}" for n in project_imports(path)} | _all_imports(path)
        if any(name == "dagster" or name.startswith("dagster.") for name in imported):
            found.add(str(relative))
    assert found == DAGSTER_IN_ENGINE


def test_private_dagster_names_only_in_the_plugin() -> None:
    """`dagster._…` imports live in `instance/` alone (its modules say why)."""
    root = PACKAGE.parent
    offenders = []
    for folder in ("testio_assets", "tools", "tests", "examples"):
        for path in sorted((root / folder).rglob("*.py")):
            if path.is_relative_to(PACKAGE / "instance"):
                continue
            if any(n.startswith("dagster._") for n in _all_imports(path)):
                offenders.append(str(path.relative_to(root)))
    assert not offenders, offenders


def test_the_package_holds_no_bench_or_soak_code() -> None:
    names = {p.stem for p in modules()} | {p.name for p in PACKAGE.rglob("*") if p.is_dir()}
    assert not {n for n in names if "bench" in n or "soak" in n or "throwaway" in n}


def _all_imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_no_sql_outside_the_store() -> None:
    keywords = ("SELECT ", "INSERT INTO", "UPDATE ", "DELETE FROM", "CREATE TABLE")
    offenders = []
    for path in modules():
        relative = path.relative_to(PACKAGE)
        if relative.parts[0] in ("store", "simulator"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                if any(k in node.value for k in keywords) and "`" not in node.value:
                    offenders.append(f"{relative}:{node.lineno}")
    assert not offenders, offenders


def test_building_the_command_line_does_not_load_the_code_location() -> None:
    """Every command parses its arguments before settings are read: a bad setting must end
    in the one-line `bad setting` message, not a traceback from an import."""
    import subprocess
    import sys

    probe = (
        "import sys; from testio_assets.cli import build_parser; build_parser(); "
        "print(sorted(m for m in sys.modules if m.startswith('testio_assets.definitions')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]", out


def test_scripts_and_tools_name_files_that_exist() -> None:
    """What the shell scripts run and the tools' usage lines say (they moved once)."""
    root = PACKAGE.parent
    texts = [p.read_text() for p in (root / "scripts").glob("*.sh")]
    texts += [p.read_text() for p in (root / "tools").rglob("*.py")]
    missing = set()
    for text in texts:
        for module in re.findall(r"-m (tools(?:\.\w+)+)", text):
            path = root.joinpath(*module.split("."))
            if not path.with_suffix(".py").exists() and not (path / "__main__.py").exists():
                missing.add(module)
        for name in re.findall(r"\b(?:scripts|tools)/[\w/]+\.(?:py|sh)\b", text):
            if not (root / name).exists():
                missing.add(name)
    assert not missing, sorted(missing)
