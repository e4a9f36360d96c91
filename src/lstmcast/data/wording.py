"""The wording shared by the data modules: data notes (decisions taken from the content) and
the small helpers that name rows, columns and sources in messages."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import pandas as pd


class DataNote(UserWarning):
    """A decision taken from the content of the data (not an error): what was done, and how to
    say otherwise."""


def note(notes: list[str], text: str) -> None:
    notes.append(text)
    warnings.warn(text, DataNote, stacklevel=3)


def where(frame: pd.DataFrame, row: int, time_name: str | None) -> str:
    text = f"row {row + 1}"
    if time_name is not None:
        text += f" (time {frame[time_name].iloc[row]})"
    return text


def names(columns: Sequence) -> str:
    return ", ".join(repr(str(c)) for c in columns)


def cap(text: str) -> str:
    """``text`` with its first letter upper-cased, to start a sentence; a file name or path
    (``daily.csv``, ``data/x.parquet``) or a quoted name is kept as it is written."""
    first = text.split(" ", 1)[0]
    if any(c in first for c in "./\\'\""):
        return text
    return text[:1].upper() + text[1:]
