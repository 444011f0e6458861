"""The package's shape: no import cycle among twin modules.

A newcomer reads the twin from the bottom up (errors, settings, store, then the HTTP layer and
the command line); a cycle means two modules can only be understood together, and a lazy import
inside a function only hides it until the day someone moves it to the top. So the walk counts
every import — top-level and inside functions — except those under `if TYPE_CHECKING:`, which
never run.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "twin"


@dataclass(frozen=True)
class Import:
    """One import statement of one module: where it is and what it names."""

    source: str
    target: str
    line: int
    text: str


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def twin_modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _statements(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import under node, at any depth, skipping `if TYPE_CHECKING:` bodies (their
    `else:` still runs, so it is walked)."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child.test):
            for other in child.orelse:
                if isinstance(other, ast.Import | ast.ImportFrom):
                    yield other
                yield from _statements(other)
            continue
        if isinstance(child, ast.Import | ast.ImportFrom):
            yield child
        yield from _statements(child)


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The twin module that `import name` runs last (the longest known prefix)."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in modules:
            return candidate
        parts.pop()
    return None


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> list[Import]:
    """The twin modules one module imports, each with the line that does it."""
    is_package = path.name == "__init__.py"
    package = name if is_package else name.rpartition(".")[0]
    found: list[Import] = []
    for statement in _statements(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        text = ast.unparse(statement)
        targets: list[str] = []
        if isinstance(statement, ast.Import):
            targets = [alias.name for alias in statement.names]
        else:
            base = statement.module or ""
            if statement.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (statement.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            # `from a import b` runs a.b when b is a module, and always a itself
            targets = [base, *(f"{base}.{alias.name}" for alias in statement.names)]
        for target in targets:
            resolved = _resolve(target, modules)
            if resolved and resolved != name:
                found.append(Import(name, resolved, statement.lineno, text))
                # importing a.b.c also runs the packages a and a.b
                parent = resolved.rpartition(".")[0]
                while parent and parent in modules and parent != name:
                    if not name.startswith(parent + "."):
                        found.append(Import(name, parent, statement.lineno, text))
                    parent = parent.rpartition(".")[0]
    return found


def import_graph() -> dict[str, dict[str, Import]]:
    """module -> {imported module -> the first line importing it}."""
    modules = twin_modules()
    graph: dict[str, dict[str, Import]] = {name: {} for name in modules}
    for name, path in modules.items():
        for each in imports_of(name, path, modules):
            graph[name].setdefault(each.target, each)
    return graph


def strongly_connected(graph: dict[str, dict[str, Import]]) -> list[list[str]]:
    """Tarjan's components with more than one module: each holds at least one cycle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components


def shortest_cycle(graph: dict[str, dict[str, Import]], members: list[str]) -> list[Import]:
    """The shortest cycle through the first module of a component, as its import lines."""
    inside = set(members)
    start = members[0]
    previous: dict[str, Import] = {}
    frontier = [start]
    while frontier:
        following: list[str] = []
        for node in frontier:
            for target, edge in sorted(graph[node].items()):
                if target not in inside or target in previous:
                    continue
                previous[target] = edge
                if target == start:
                    cycle = [edge]
                    while cycle[0].source != start:
                        cycle.insert(0, previous[cycle[0].source])
                    return cycle
                following.append(target)
        frontier = following
    raise AssertionError(f"no cycle through {start}")  # a component always has one


def describe(cycle: list[Import], members: list[str]) -> str:
    names = " -> ".join([cycle[0].source, *(edge.target for edge in cycle)])
    lines = "\n".join(f"    {edge.source}:{edge.line}: {edge.text}" for edge in cycle)
    tangle = (
        f"\n    (one loop of a tangle of {', '.join(members)})" if len(members) > len(cycle) else ""
    )
    return f"  {names}\n{lines}{tangle}"


def test_the_walk_sees_lazy_imports_and_skips_type_checking_blocks(tmp_path: Path) -> None:
    """The walk itself: an import inside a function counts, one under TYPE_CHECKING does not."""
    package = tmp_path / "twin"
    package.mkdir()
    (package / "a.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from twin.c import C\n"
        "def f():\n    from twin import b\n    return b\n"
    )
    (package / "b.py").write_text("from .a import f\n")
    (package / "c.py").write_text("import twin.a\n")
    modules = {"twin.a": package / "a.py", "twin.b": package / "b.py", "twin.c": package / "c.py"}
    assert {each.target for each in imports_of("twin.a", modules["twin.a"], modules)} == {"twin.b"}
    assert {each.target for each in imports_of("twin.b", modules["twin.b"], modules)} == {"twin.a"}


def test_no_import_cycle_among_twin_modules() -> None:
    """Every module of the package can be read, imported and tested without the modules that
    import it: the import graph (lazy imports included) has no cycle."""
    graph = import_graph()
    assert len(graph) > 50, "the walk found too few modules to be walking the twin"
    tangles = strongly_connected(graph)
    assert not tangles, (
        f"{len(tangles)} import cycle(s) among twin modules (each shown by its "
        "shortest loop and the lines that make it):\n"
        + "\n".join(describe(shortest_cycle(graph, members), members) for members in tangles)
    )
