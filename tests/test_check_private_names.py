"""scripts/check_private_names.py (run by `make lint`) on a tiny package and a user directory."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "check_private_names.py"


def _checker():
    spec = importlib.util.spec_from_file_location("check_private_names", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_user_code_may_not_import_private_modules_or_names(tmp_path):
    package = tmp_path / "src" / "pkg"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "_util.py").write_text("def helper():\n    return 1\n")
    (package / "io.py").write_text("from pkg._util import helper\n\n\ndef _read():\n    return helper()\n")
    bench = tmp_path / "benchmarks"
    bench.mkdir()
    (bench / "run.py").write_text("import pkg._util\nfrom pkg import _util\nfrom pkg._util import helper\n"
                                  "from pkg.io import _read\nfrom pkg.io import helper as ok\n")
    found = [str(o) for o in _checker().check_package(package, (bench,))]
    assert len(found) == 4, found
    assert sum("imports private module 'pkg._util' of pkg" in line for line in found) == 3
    assert any("imports private name '_read' of pkg.io" in line for line in found)
    assert _checker().check_package(package) == []  # inside the package, _util is the parent's own
