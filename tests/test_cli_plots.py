"""The pictures the command line writes: predict --plot, and forecast.png of train."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from lstmcast.cli import main
from tests.conftest import dated_frame

FAST = ["--set", "train.max_epochs=2", "--set", "model.hidden_size=8", "--quiet"]


@pytest.fixture(scope="module")
def shops_model(tmp_path_factory):
    root = tmp_path_factory.mktemp("shops")
    frames = []
    for k, key in enumerate(["north", "south", "east"]):
        f = dated_frame(150, columns=1, seed=k)
        f["shop"] = key
        frames.append(f)
    data = root / "shops.csv"
    pd.concat(frames).to_csv(data, index=False)
    out = root / "m"
    assert main(["train", "--data", str(data), "--series-col", "shop", "--target", "y", "--input-length", "24",
                 "--horizon", "6", "--out", str(out), "--set", "model.head=quantile", *FAST]) == 0
    return out, data


def size_of(path) -> tuple[int, int]:
    with Image.open(path) as image:
        assert image.format == "PNG"
        return image.size


def test_predict_plot_writes_a_grid_of_every_series(shops_model, tmp_path, capsys):
    model, data = shops_model
    plot = tmp_path / "pictures" / "forecast.png"
    capsys.readouterr()
    assert main(["predict", "--model", str(model), "--data", str(data), "--plot", str(plot), "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["paths"]["plot"] == str(plot)
    width, height = size_of(plot)
    assert width > 900 and height > 550  # three panels on a 2x2 grid
    assert not list(plot.parent.glob(".*tmp*"))  # written atomically, nothing left behind


def test_predict_plot_of_named_series(shops_model, tmp_path, capsys):
    model, data = shops_model
    plot = tmp_path / "south.png"
    assert main(["predict", "--model", str(model), "--data", str(data), "--plot", str(plot),
                 "--plot-series", "south", "--plot-window", "48"]) == 0
    assert "plot written to" in capsys.readouterr().out
    width, height = size_of(plot)
    assert width > 900 and height < 500  # one wide panel


def test_predict_plot_bad_input_is_a_clear_error(shops_model, tmp_path, capsys):
    model, data = shops_model
    capsys.readouterr()
    assert main(["predict", "--model", str(model), "--data", str(data), "--plot", str(tmp_path / "f.png"),
                 "--plot-series", "west"]) == 2
    err = capsys.readouterr().err
    assert "--plot: Series ['west'] are not in this forecast; it has 3 series" in err and "Traceback" not in err
    assert main(["predict", "--model", str(model), "--data", str(data), "--plot", str(tmp_path / "f.pdf")]) == 2
    assert "give a file name ending in .png" in capsys.readouterr().err


def test_train_forecast_png_shows_the_scored_horizon(shops_model):
    model, _ = shops_model
    image = np.asarray(Image.open(model / "forecast.png").convert("RGB"), dtype=np.int16)
    r, b = image[..., 0], image[..., 2]
    assert ((b - r > 60) & (b > 150)).sum() > 300  # the forecast paths and their bands are drawn
