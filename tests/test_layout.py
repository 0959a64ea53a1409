"""The house keeps its shape: flows/ has no import circle, only flows/deployments imports flow functions,
and the core (reelgate/) imports no stage."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _module_imports(path: Path) -> set[str]:
    """The flows.* modules a module imports at its top level (imports inside functions are lazy on purpose)."""
    found: set[str] = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "flows":
                found |= {f"flows.{a.name}" for a in node.names}
            elif node.module.startswith("flows."):
                found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("flows.")}
    return found


def test_flows_have_no_import_circle():
    graph = {f"flows.{p.stem}": _module_imports(p) for p in (ROOT / "flows").glob("*.py") if p.stem != "__init__"}
    seen: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(module: str, path: list[str]) -> None:
        if seen.get(module) == 1:
            raise AssertionError("import circle: " + " -> ".join([*path, module]))
        if seen.get(module) == 2:
            return
        seen[module] = 1
        for target in sorted(graph.get(module, ())):
            visit(target, [*path, module])
        seen[module] = 2

    for module in sorted(graph):
        visit(module, [])
    assert "flows.runs" in graph and "flows.server" in graph and "flows.deployments" in graph


def test_only_deployments_import_flow_functions():
    importers = {p.name for p in (ROOT / "flows").glob("*.py")
                 for node in ast.walk(ast.parse(p.read_text(encoding="utf-8")))
                 if isinstance(node, ast.ImportFrom) and node.module in ("flows.episode", "flows.series", "flows.variants")}
    assert importers <= {"deployments.py"}, importers


# Every package above the core: a stage of the pipeline, or the CLI that drives them.
STAGES = {"cli", "editorial", "flows", "generation", "postprocess", "prompts", "quality", "safety", "tasks"}


def _imported_packages(path: Path) -> set[str]:
    """The top-level packages a module imports anywhere: at the top, inside functions, under TYPE_CHECKING."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
        elif isinstance(node, ast.Import):
            found |= {a.name.split(".")[0] for a in node.names}
    return found


def test_the_core_imports_no_stage():
    offenders = {f"reelgate/{p.name}": sorted(_imported_packages(p) & STAGES)
                 for p in sorted((ROOT / "reelgate").rglob("*.py"))}
    offenders = {name: stages for name, stages in offenders.items() if stages}
    assert not offenders, f"the core imports stages (it holds settings, errors, records and helpers only): {offenders}"


def test_only_the_cli_imports_the_cli():
    """The CLI drives the stages; no stage reaches up into it (the page shares the batch's rules
    through editorial.requests, not cli.batch)."""
    offenders = {str(p.relative_to(ROOT)) for stage in STAGES - {"cli"} for p in (ROOT / stage).rglob("*.py")
                 if "cli" in _imported_packages(p)}
    assert not offenders, f"these import the CLI: {sorted(offenders)}"
