"""Chronological splits: the training part always comes first, then validation, then test.

A window belongs to the split that holds its *targets*; its inputs may reach back into the
previous split (the usual protocol: no target of a later split is ever seen in training).
"""

from __future__ import annotations

from dataclasses import dataclass

from lstmcast.errors import DataError


@dataclass(frozen=True)
class SplitBounds:
    """Row boundaries of one series: train ``[0, train_end)``, val ``[train_end, val_end)``,
    test ``[val_end, n_rows)``."""

    n_rows: int
    train_end: int
    val_end: int

    def target_starts(self, part: str, input_length: int, horizon: int) -> range:
        """First-target rows of the windows whose H targets all lie in ``part``; the window's
        input then covers ``[start - input_length, start)``."""
        lo, hi = {"train": (0, self.train_end), "val": (self.train_end, self.val_end),
                  "test": (self.val_end, self.n_rows), "all": (0, self.n_rows)}[part]
        return range(max(lo, input_length), hi - horizon + 1)


def split_bounds(n_rows: int, val_fraction: float, test_fraction: float) -> SplitBounds:
    """Split ``n_rows`` time-ordered rows by fractions (rounded to whole rows)."""
    n_test = round(n_rows * test_fraction)
    n_val = round(n_rows * val_fraction)
    return SplitBounds(n_rows=n_rows, train_end=n_rows - n_val - n_test, val_end=n_rows - n_test)


def minimum_length(input_length: int, horizon: int, val_fraction: float, test_fraction: float) -> int:
    """The fewest rows for which train has one window and val / test (when asked for) one each."""
    n = input_length + horizon
    while n < 10_000_000:
        b = split_bounds(n, val_fraction, test_fraction)
        ok = len(b.target_starts("train", input_length, horizon)) >= 1
        if val_fraction > 0:
            ok &= len(b.target_starts("val", input_length, horizon)) >= 1
        if test_fraction > 0:
            ok &= len(b.target_starts("test", input_length, horizon)) >= 1
        if ok:
            return n
        n += 1
    return n  # pragma: no cover


def check_length(n_rows: int, input_length: int, horizon: int, val_fraction: float,
                 test_fraction: float, what: str = "The series") -> SplitBounds:
    """Split bounds, or a DataError saying how many rows are needed and how to get there."""
    need = minimum_length(input_length, horizon, val_fraction, test_fraction)
    if n_rows < need:
        raise DataError(
            f"{what} has {n_rows} rows, but input_length={input_length}, horizon={horizon}, "
            f"val_fraction={val_fraction} and test_fraction={test_fraction} need at least {need} "
            "(one training window plus a validation and a test part). Use a longer series or "
            "smaller data.input_length / data.horizon."
        )
    return split_bounds(n_rows, val_fraction, test_fraction)
