"""Structure checks of `make lint` that ruff, import-linter and mypy do not make.

1. No module of app code is over MAX_MODULE_LINES lines (migrations excluded).
2. No function of the write path or the inbound path is over MAX_FUNCTION_LINES lines,
   counted from its `def` line to its last line (nested functions are counted on their own
   and inside their parent).
3. No import cycle runs through modules of two apps. The module graph is read with `ast`
   from every import statement, those inside functions and `if TYPE_CHECKING:` included,
   because a function-level import is how a cycle hides from the module's header.

Standard library only, so it runs before anything is installed. Prints one line per
problem (file:line: message) and exits 1 if there is any.
"""

import ast
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APPS = ("inventory_hub", "warehouses", "stock", "connectors", "alerts", "transfers", "suggestions", "demo")
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 80
# The write path and the inbound path: globs relative to the repository root.
SHORT_FUNCTION_PATHS = (
    "stock/services/**/*.py",
    "connectors/inbox*.py",
    "connectors/inbox/**/*.py",
    "connectors/inbound/**/*.py",
    "connectors/sync/**/*.py",
    "connectors/magento/inbound.py",
    "connectors/partner/csv_feed.py",
    "connectors/fast_inbound.py",
)


@dataclass(frozen=True)
class Problem:
    path: Path
    line: int
    message: str
    # Further file:line lines that belong to this problem (the edges of a cycle).
    details: tuple[str, ...] = ()

    def __str__(self) -> str:
        head = f"{self.path.relative_to(ROOT)}:{self.line}: {self.message}"
        return "\n".join([head, *(f"    {detail}" for detail in self.details)])


@dataclass
class Module:
    name: str
    path: Path
    tree: ast.Module
    # Imported module name -> line numbers of the statements that import it.
    imports: dict[str, list[int]] = field(default_factory=dict)


def app_files() -> Iterator[Path]:
    for app in APPS:
        package = ROOT / app
        if not package.is_dir():
            continue
        for path in sorted(package.rglob("*.py")):
            if "migrations" not in path.relative_to(ROOT).parts:
                yield path


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def check_module_lengths(modules: list[Module]) -> Iterator[Problem]:
    for module in modules:
        lines = len(module.path.read_text().splitlines())
        if lines > MAX_MODULE_LINES:
            yield Problem(
                module.path, 1, f"module has {lines} lines (limit {MAX_MODULE_LINES}); split it"
            )


def short_function_files() -> list[Path]:
    found = {path for pattern in SHORT_FUNCTION_PATHS for path in ROOT.glob(pattern)}
    return sorted(path for path in found if path.is_file())


def check_function_lengths(paths: list[Path]) -> Iterator[Problem]:
    for path in paths:
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    yield Problem(
                        path,
                        node.lineno,
                        f"function {node.name}() has {length} lines"
                        f" (limit {MAX_FUNCTION_LINES} in the write and inbound paths)",
                    )


def resolve_imports(module: Module, known: set[str]) -> None:
    """Fill module.imports with the app modules each import statement names."""
    is_package = module.path.name == "__init__.py"
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.name.split(".")
                anchor = anchor if is_package else anchor[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            # `from package import name`: name is a submodule, or a name defined in package.
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                for alias in node.names
            ]
        else:
            continue
        for target in targets:
            # `import stock.services.ledger` depends on the deepest module that exists.
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != module.name:
                module.imports.setdefault(target, []).append(node.lineno)


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative (the graph has a few hundred modules)."""
    index: dict[str, int] = {}
    lowlink: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(start, iter(sorted(graph[start])))]
        index[start] = lowlink[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, successors = work[-1]
            for successor in successors:
                if successor not in index:
                    index[successor] = lowlink[successor] = counter
                    counter += 1
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(sorted(graph[successor]))))
                    break
                if successor in on_stack:
                    lowlink[node] = min(lowlink[node], index[successor])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    lowlink[parent] = min(lowlink[parent], lowlink[node])
                if lowlink[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    components.append(sorted(component))
    return components


def app_of(name: str) -> str:
    return name.partition(".")[0]


def check_cross_app_cycles(modules: list[Module]) -> Iterator[Problem]:
    by_name = {module.name: module for module in modules}
    known = set(by_name)
    for module in modules:
        resolve_imports(module, known)
    graph = {module.name: set(module.imports) for module in modules}
    for component in strongly_connected(graph):
        apps = sorted({app_of(name) for name in component})
        if len(apps) < 2:
            continue
        members = set(component)
        # The imports that cross apps inside the cycle are where it can be cut.
        crossings = [
            f"{by_name[name].path.relative_to(ROOT)}:{line}: {name} imports {target}"
            for name in component
            for target, lines in sorted(by_name[name].imports.items())
            if target in members and app_of(target) != app_of(name)
            for line in sorted(set(lines))
        ]
        yield Problem(
            by_name[component[0]].path,
            1,
            f"import cycle of {len(component)} modules across {' and '.join(apps)}: "
            + ", ".join(component)
            + "; the imports that cross apps in it:",
            tuple(crossings),
        )


def main() -> None:
    modules = []
    for path in app_files():
        tree = ast.parse(path.read_text(), filename=str(path))
        modules.append(Module(name=module_name(path), path=path, tree=tree))
    problems = [
        *check_module_lengths(modules),
        *check_function_lengths(short_function_files()),
        *check_cross_app_cycles(modules),
    ]
    for problem in problems:
        print(problem)
    if problems:
        print(f"check_structure: {len(problems)} problems")
        sys.exit(1)
    print(f"check_structure: {len(modules)} modules, no problems")


if __name__ == "__main__":
    main()
