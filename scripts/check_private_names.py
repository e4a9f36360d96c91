"""No module uses a private name of another lstmcast module; run by `make lint`.

A private name starts with one underscore (``_forward``; dunders such as ``__version__`` are
public). It belongs to the module that defines it: at module level (def, class, assignment,
import alias), in a class body, or as ``self._name = ...`` inside a method. Another module may
neither import it (``from lstmcast.forecaster import _jsonable``) nor reach it through an
attribute (``forecaster._forward(x)``, ``io._read``) -- make the name public where it is defined,
or move the code that needs it next to it. Attributes of ``self`` / ``cls`` are not checked (a
subclass may use what its base defines), and neither are private names that no lstmcast module
defines (``torch._C`` is torch's business). Import-linter checks private *modules* (the
``private_modules`` contract); this checks the names inside modules.

Code outside the package (``benchmarks/``: scripts that use lstmcast as a library) is checked the
same way, and may not import a private module either (``from lstmcast._json import jsonable``):
it reaches lstmcast through public names only.

Usage: python scripts/check_private_names.py [PACKAGE_DIR [USER_DIR ...]]   (default: src/lstmcast)
"""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path


def is_private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__") and name != "_"


def module_name(path: Path, package_dir: Path) -> str:
    parts = list(path.relative_to(package_dir.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _target_names(target: ast.expr) -> list[str]:
    if isinstance(target, ast.Name):
        return [target.id]
    if isinstance(target, ast.Tuple | ast.List):
        return [name for element in target.elts for name in _target_names(element)]
    if isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name):
        if target.value.id in ("self", "cls"):
            return [target.attr]
    return []


def defined_private_names(tree: ast.Module) -> set[str]:
    """The private names a module defines: at module level, in class bodies, and on self."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                names.update(_target_names(target))
        elif isinstance(node, ast.AnnAssign | ast.AugAssign):
            names.update(_target_names(node.target))
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
    return {name for name in names if is_private(name)}


@dataclass(frozen=True)
class Offence:
    path: Path
    line: int
    name: str
    owner: str
    how: str
    what: str = "private name"

    def __str__(self) -> str:
        return (f"{self.path}:{self.line}: {self.how} {self.what} {self.name!r} of {self.owner}; "
                "make it public where it is defined, or move the code that needs it there")


def _absolute(node: ast.ImportFrom, importer: str, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    base = importer.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def check_module(path: Path, name: str, tree: ast.Module, owners: dict[str, set[str]],
                 modules: set[str]) -> list[Offence]:
    """Private names of other lstmcast modules that ``tree`` (module ``name``) imports or uses."""
    own = {n for n, where in owners.items() if name in where}
    offences = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            source = _absolute(node, name, path.name == "__init__.py")
            if source not in modules or source == name:
                continue
            for alias in node.names:
                if is_private(alias.name) and f"{source}.{alias.name}" not in modules:
                    offences.append(Offence(path, node.lineno, alias.name, source, "imports"))
        elif isinstance(node, ast.Attribute) and is_private(node.attr):
            if isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"):
                continue
            if isinstance(node.value, ast.Call) and isinstance(node.value.func, ast.Name) \
                    and node.value.func.id == "super":
                continue
            if node.attr in owners and node.attr not in own:
                owner = " / ".join(sorted(owners[node.attr]))
                offences.append(Offence(path, node.lineno, node.attr, owner, "uses"))
    return offences


def private_module_imports(path: Path, tree: ast.Module, package: str, modules: set[str]) -> list[Offence]:
    """Imports of a private module of ``package`` (``lstmcast._json``, ``from lstmcast import _json``)
    by code outside it (a private name inside a public module is :func:`check_module`'s)."""
    offences = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            sources = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            sources = [f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in modules else node.module
                       for alias in node.names]
        else:
            continue
        for source in sources:
            parts = source.split(".")
            private = [i for i, part in enumerate(parts) if i and is_private(part)]
            if parts[0] == package and private:
                module = ".".join(parts[: private[0] + 1])
                offences.append(Offence(path, node.lineno, module, package, "imports", "private module"))
    return offences


def _parse(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def check_package(package_dir: Path, user_dirs: tuple[Path, ...] = ()) -> list[Offence]:
    trees = {path: (module_name(path, package_dir), _parse(path)) for path in sorted(package_dir.rglob("*.py"))}
    modules = {name for name, _ in trees.values()}
    owners: dict[str, set[str]] = defaultdict(set)
    for name, tree in trees.values():
        for private in defined_private_names(tree):
            owners[private].add(name)
    offences = []
    for path, (name, tree) in trees.items():
        offences.extend(check_module(path, name, tree, owners, modules))
    for path in sorted(p for user_dir in user_dirs for p in user_dir.rglob("*.py")):
        tree = _parse(path)
        offences.extend(check_module(path, f"<{path}>", tree, owners, modules))
        offences.extend(private_module_imports(path, tree, package_dir.name, modules))
    return offences


def main(argv: list[str]) -> int:
    package_dir = Path(argv[0]) if argv else Path("src/lstmcast")
    offences = check_package(package_dir, tuple(Path(arg) for arg in argv[1:]))
    for offence in offences:
        print(offence)
    if offences:
        print(f"{len(offences)} use(s) of another module's private name")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
