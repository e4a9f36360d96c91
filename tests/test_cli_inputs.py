"""Bad inputs through the command line: exit 2, a message naming the problem and the fix, or the
handling stated on stderr; never a traceback."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from lstmcast.cli import main
from tests.conftest import dated_frame

FAST = ["--set", "train.max_epochs=1", "--set", "model.hidden_size=4", "--input-length", "6", "--quiet"]


def run(args, capsys) -> tuple[int, str]:
    capsys.readouterr()
    code = main(args)
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err


@pytest.fixture(scope="module")
def hourly_model(tmp_path_factory):
    root = tmp_path_factory.mktemp("hourly")
    dated_frame(120, columns=1).to_csv(root / "h.csv", index=False)
    assert main(["train", "--data", str(root / "h.csv"), "--target", "y", "--out", str(root / "m"), *FAST]) == 0
    return root / "m"


def test_gaps_refused_then_filled_on_request(tmp_path, capsys):
    frame = dated_frame(120, columns=1).drop(index=[10, 50, 51])
    frame.to_csv(tmp_path / "gaps.csv", index=False)
    code, err = run(["train", "--data", str(tmp_path / "gaps.csv"), "--out", str(tmp_path / "m"), *FAST], capsys)
    assert code == 2 and "3 missing timestamp(s) at its step of 1h" in err and "--fill-gaps" in err
    code, err = run(["train", "--data", str(tmp_path / "gaps.csv"), "--out", str(tmp_path / "m"), "--fill-gaps",
                     *FAST], capsys)
    assert code == 2 and "set data.fill to ffill or interpolate" in err
    code, err = run(["train", "--data", str(tmp_path / "gaps.csv"), "--out", str(tmp_path / "m"), "--fill-gaps",
                     "--fill", "interpolate", *FAST], capsys)
    assert code == 0 and "note:" in err and "added 3 missing timestamp(s)" in err


def test_a_relative_file_name_is_quoted_as_written(tmp_path, capsys, monkeypatch):
    # the file name starts the sentence, and keeps its case: "daily_gaps.csv has ...", not "Daily_gaps.csv"
    monkeypatch.chdir(tmp_path)
    dated_frame(120, columns=1).drop(index=[10]).to_csv("daily_gaps.csv", index=False)
    code, err = run(["train", "--data", "daily_gaps.csv", "--out", "m", *FAST], capsys)
    assert code == 2 and "daily_gaps.csv has 1 missing timestamp(s)" in err


def test_predict_on_data_of_another_frequency(hourly_model, tmp_path, capsys):
    monthly = dated_frame(40, columns=1, freq="MS")
    monthly.to_csv(tmp_path / "monthly.csv", index=False)
    code, err = run(["predict", "--model", str(hourly_model), "--data", str(tmp_path / "monthly.csv")], capsys)
    assert code == 2 and "step of 1MS, but the model was trained on data at a step of 1h" in err


def test_semicolon_file_trains_and_the_sniffing_is_said(tmp_path, capsys):
    frame = dated_frame(120, columns=1)
    text = "date;y\n" + "\n".join(f"{d};{str(round(v, 4)).replace('.', ',')}" for d, v in zip(frame.date, frame.y,
                                                                                                 strict=True))
    (tmp_path / "semi.csv").write_text(text, encoding="utf-8")
    code, err = run(["train", "--data", str(tmp_path / "semi.csv"), "--out", str(tmp_path / "m"), *FAST], capsys)
    assert code == 0 and "semicolon-separated with decimal commas" in err


def test_nixtla_frame_names_series_col(tmp_path, capsys):
    ds = pd.date_range("2024-01-01", periods=60, freq="h")
    frame = pd.DataFrame({"unique_id": np.repeat(["a", "b"], 60), "ds": np.tile(ds, 2),
                          "y": np.sin(np.arange(120) / 5)})
    frame.to_csv(tmp_path / "nf.csv", index=False)
    code, err = run(["train", "--data", str(tmp_path / "nf.csv"), "--out", str(tmp_path / "m"), *FAST], capsys)
    assert code == 0 and "long layout: series column 'unique_id', time column 'ds'" in err  # recognised, stated
    saved = json.loads((tmp_path / "m" / "config.json").read_text())["data"]
    assert (saved["series_col"], saved["time_col"], saved["targets"]) == ("unique_id", "ds", ["y"])
    code, _ = run(["train", "--data", str(tmp_path / "nf.csv"), "--series-col", "unique_id", "--out",
                   str(tmp_path / "m"), *FAST], capsys)
    assert code == 0
    frame["extra"] = 1.0  # another unique_id frame whose time column is named: the message still names the fix
    frame.rename(columns={"ds": "when"}).to_csv(tmp_path / "nf2.csv", index=False)
    code, err = run(["train", "--data", str(tmp_path / "nf2.csv"), "--target", "y", "--time-col", "when", "--out",
                     str(tmp_path / "m2"), *FAST], capsys)
    assert code == 2 and "--series-col unique_id" in err
