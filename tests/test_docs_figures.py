"""docs/make_figures.py regenerates every picture the docs show (quick mode: tiny models)."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[1]


def load_script():
    spec = importlib.util.spec_from_file_location("make_figures", REPO / "docs" / "make_figures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_make_figures_writes_every_picture_the_docs_show(tmp_path):
    written = load_script().main(["--quick", "--out", str(tmp_path)])
    shown = set(re.findall(r"\(img/([a-z_]+\.png)\)", (REPO / "docs" / "plots.md").read_text()))
    made = {path.name for path in written.values()}
    assert shown <= made, f"docs/plots.md shows pictures the script does not make: {shown - made}"
    assert shown | {"forecast.png"} >= made, f"pictures made but never shown: {made - shown}"
    for path in written.values():
        with Image.open(path) as image:
            assert image.format == "PNG" and image.size[0] > 500 and image.size[1] > 150, path
    assert not list(tmp_path.glob(".*tmp*")) and not list(tmp_path.glob("*.journal"))
    for name in shown:  # and the docs' copies are there
        assert (REPO / "docs" / "img" / name).is_file(), name
