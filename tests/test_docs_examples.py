"""Every example of the docs site and the README runs as written, on the quickstart's example data.

The pages are run in reading order in one folder, as a reader would follow them: the quickstart
writes the example files and `models/sales`, the command-line page makes `runs/demo`, and later
pages use them. Running one page runs the pages before it first. A block preceded by
``<!-- not run in the docs test: REASON -->`` is skipped (a server, a cluster, hours of work);
the reason is required, and every such block is listed by ``test_skipped_blocks_say_why``.
``lstmcast`` and ``python`` in shell blocks are this checkout's code (``python -m lstmcast.cli``).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# reading order; a page whose examples use another's files comes after it (docs/lstm.md uses none: first,
# so that running it alone is quick)
PAGES = ["docs/lstm.md", "docs/quickstart.md", "docs/cli.md", "docs/forecasting.md", "docs/python.md", "docs/models.md", "docs/training.md",
         "docs/plots.md", "docs/tuning.md", "docs/deployment.md", "docs/benchmarks.md", "docs/install.md",
         "docs/index.md", "docs/bad-inputs.md", "README.md"]
BLOCK = re.compile(r"(?:<!-- not run in the docs test: (?P<why>[^>]*?) -->\n)?```(?P<lang>python|bash)\n"
                   r"(?P<code>.*?)```", re.S)
MARKER = "<!-- not run in the docs test"


def blocks(page: str) -> list[tuple[str, str, str | None]]:
    text = (REPO / page).read_text(encoding="utf-8")
    return [(m["lang"], m["code"], m["why"]) for m in BLOCK.finditer(text)]


def test_every_page_with_examples_is_run():
    docs = {f"docs/{p.name}" for p in (REPO / "docs").glob("*.md")}
    # pages written by the other parts of the project test their own examples
    others = {"docs/accuracy.md", "docs/speed.md"}
    with_code = {page for page in docs - others if blocks(page)}
    assert with_code <= set(PAGES), f"add {sorted(with_code - set(PAGES))} to PAGES"


def test_skipped_blocks_say_why():
    for page in PAGES:
        text = (REPO / page).read_text(encoding="utf-8")
        assert text.count(MARKER) == sum(why is not None for _, _, why in blocks(page)), (
            f"{page}: a '{MARKER}' marker must stand on the line right before a ```python or ```bash block")
        assert all(why is None or why.strip() for _, _, why in blocks(page))


class Reader:
    """One folder in which the pages' examples run in order."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.done: list[str] = []
        shims = folder / ".bin"
        shims.mkdir()
        (shims / "lstmcast").write_text(f'#!/bin/sh\nexec "{sys.executable}" -m lstmcast.cli "$@"\n')
        (shims / "lstmcast").chmod(0o755)
        (shims / "python").symlink_to(sys.executable)
        self.env = {**os.environ, "PATH": f"{shims}{os.pathsep}{os.environ['PATH']}",
                    "PYTHONPATH": os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")]),
                    "MPLBACKEND": "Agg"}

    def run(self, page: str) -> int:
        ran = 0
        for number, (lang, code, why) in enumerate(blocks(page), 1):
            if why is not None:
                continue
            where = f"{page}, example {number} ({lang})"
            if lang == "bash":
                done = subprocess.run(["bash", "-euo", "pipefail", "-c", code], cwd=self.folder, env=self.env,
                                      capture_output=True, text=True, timeout=900)
                assert done.returncode == 0, f"{where} failed:\n{code}\n--- stdout\n{done.stdout[-3000:]}" \
                                             f"\n--- stderr\n{done.stderr[-3000:]}"
            else:
                done = subprocess.run([sys.executable, "-c", code], cwd=self.folder, env=self.env,
                                      capture_output=True, text=True, timeout=900)
                assert done.returncode == 0, f"{where} failed:\n{code}\n--- stderr\n{done.stderr[-3000:]}"
                assert done.stdout.strip(), f"{where} printed nothing: an example shows its result"
            ran += 1
        self.done.append(page)
        return ran


@pytest.fixture(scope="module")
def reader(tmp_path_factory) -> Reader:
    return Reader(tmp_path_factory.mktemp("reader"))


@pytest.mark.slow
@pytest.mark.xdist_group("docs_reader")  # one reader's folder: the pages run in order in one worker
@pytest.mark.parametrize("page", PAGES)
def test_page_examples_run_as_written(page, reader):
    for before in PAGES[: PAGES.index(page)]:
        if before not in reader.done:
            reader.run(before)
    reader.run(page)
    if page == "docs/quickstart.md":
        for name in ("sales.csv", "load.csv", "next_day.csv", "shops.csv", "sine.csv", "forecast.csv",
                     "forecast.png", "models/sales/forecast.png"):
            assert (reader.folder / name).is_file(), f"the quickstart promises {name}"
