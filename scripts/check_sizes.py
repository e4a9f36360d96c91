"""Size limits for the source tree, run by `make lint`.

No module in src over 400 lines, no function (or method) over 60 lines. A file may go over a limit
when it says why: a line `# size: <reason>` anywhere in the file exempts the file's length, and the
same comment on a function's `def` line (or the line above it) exempts that function. Complexity
(at most 15) is checked by ruff's C901.

Usage: python scripts/check_sizes.py [ROOT ...]   (default: src)
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

MAX_FILE_LINES = 400
MAX_FUNCTION_LINES = 60
NOTE = "# size:"


def _function_note(lines: list[str], node: ast.AST) -> bool:
    first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
    around = lines[max(first - 2, 0) : node.lineno]
    return any(NOTE in line for line in around)


def check_file(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    problems = []
    if len(lines) > MAX_FILE_LINES and not any(line.lstrip().startswith(NOTE) for line in lines):
        problems.append(
            f"{path}: {len(lines)} lines (limit {MAX_FILE_LINES}); split it, or say why in a "
            f"'{NOTE} <reason>' line"
        )
    for node in ast.walk(ast.parse(text, filename=str(path))):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            if length > MAX_FUNCTION_LINES and not _function_note(lines, node):
                problems.append(
                    f"{path}:{node.lineno}: function {node.name!r} is {length} lines "
                    f"(limit {MAX_FUNCTION_LINES}); split it, or say why in a '{NOTE} <reason>' "
                    "comment on the line above its def"
                )
    return problems


def main(argv: list[str]) -> int:
    roots = [Path(a) for a in argv] or [Path("src")]
    problems = []
    for root in roots:
        files = sorted(root.rglob("*.py")) if root.is_dir() else [root]
        for path in files:
            problems.extend(check_file(path))
    for problem in problems:
        print(problem)
    if problems:
        print(f"{len(problems)} size problem(s)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
