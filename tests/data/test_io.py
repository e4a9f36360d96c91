"""data.io: every bad or unusual input file is refused with its fix, or read and stated."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from lstmcast.data.io import DataNote, future_index, prepare_frame, read_table, spacing
from lstmcast.errors import DataError


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def read(path, columns=("y",), **kw):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        frame = prepare_frame(read_table(path), list(columns), **kw)
    return frame, [str(w.message) for w in caught if issubclass(w.category, DataNote)]


@pytest.mark.parametrize("freq", ["h", "MS"])
def test_mixed_utc_offsets_are_converted_to_utc_and_said(tmp_path, freq):
    times = pd.date_range("2024-03-30" if freq == "h" else "2024-01-01", periods=30, freq=freq,
                          tz="Europe/Berlin")  # across the DST change
    path = write(tmp_path, "dst.csv", "time,y\n" + "\n".join(f"{t.isoformat()},{i}" for i, t in enumerate(times)))
    frame, notes = read(path)
    assert str(frame.index.tz) == "UTC"
    assert (frame.index == times.tz_convert("UTC")).all()
    assert any("+01:00, +02:00" in n and "UTC" in n for n in notes)


def test_semicolons_and_decimal_commas_are_sniffed(tmp_path):
    path = write(tmp_path, "semi.csv", "date;y\n" + "\n".join(f"2024-01-{i + 1:02d};{i},5" for i in range(20)))
    frame, notes = read(path)
    assert frame["y"].iloc[:3].tolist() == [0.5, 1.5, 2.5]
    assert any("semicolon-separated with decimal commas" in n for n in notes)
    tabs = write(tmp_path, "tabs.txt", "date\ty\n" + "\n".join(f"2024-01-{i + 1:02d}\t{i}.25" for i in range(20)))
    assert read(tabs)[0]["y"].iloc[1] == 1.25


def test_a_row_with_an_extra_field_is_refused_not_shifted(tmp_path):
    path = write(tmp_path, "comma.csv", "date,y\n" + "\n".join(f"2024-01-{i + 1:02d},{i},5" for i in range(20)))
    with pytest.raises(DataError, match=r"more fields than its header \(line 2 has 3 fields.*decimal comma"):
        read_table(path)
    later = write(tmp_path, "later.csv", "date,y\n2024-01-01,1\n2024-01-02,2,5\n")
    with pytest.raises(DataError, match=r"Expected 2 fields in line 3, saw 3.*write 1.5 instead of 1,5"):
        read_table(later)


def test_a_quoted_decimal_comma_names_the_fix(tmp_path):
    path = write(tmp_path, "q.csv", 'date,y\n2024-01-01,"1,5"\n2024-01-02,"2,5"\n2024-01-03,"3,5"\n')
    with pytest.raises(DataError, match=r"'1,5' at row 1.*decimal comma"):
        read(path)


@pytest.mark.parametrize("fmt", ["{:02d}.01.2024 00:00", "{:02d}/01/2024"])
def test_day_first_dates(tmp_path, fmt):
    days = 9 if "." in fmt else 20  # dots: day first by convention; slashes: a day above 12 decides
    path = write(tmp_path, "d.csv", "date,y\n" + "\n".join(f"{fmt.format(i + 1)},{i}" for i in range(days)))
    frame, notes = read(path)
    assert (frame.index == pd.date_range("2024-01-01", periods=days, freq="D")).all()
    assert any("day first" in n for n in notes)


def test_month_first_stays_month_first(tmp_path):
    path = write(tmp_path, "m.csv", "date,y\n" + "\n".join(f"01/{i + 1:02d}/2024,{i}" for i in range(20)))
    assert read(path)[0].index[12] == pd.Timestamp("2024-01-13")


@pytest.mark.parametrize("name,times", [
    ("week_ending", pd.date_range("2024-01-07", periods=20, freq="W")),
    ("month", pd.date_range("2024-01-01", periods=20, freq="MS")),
])
def test_time_column_detected_by_content_and_stated(tmp_path, name, times):
    text = f"{name},y\n" + "\n".join(f"{t.strftime('%Y-%m' if name == 'month' else '%Y-%m-%d')},{i}"
                                     for i, t in enumerate(times))
    frame, notes = read(write(tmp_path, "t.csv", text))
    assert (frame.index == times).all()
    assert any(f"took column {name!r}" in n and "--time-col" in n for n in notes)


def test_the_index_column_to_csv_writes(tmp_path):
    times = pd.date_range("2024-01-01", periods=30, freq="h")
    pd.DataFrame({"y": np.arange(30.0)}, index=times).to_csv(tmp_path / "dated.csv")
    frame, notes = read(tmp_path / "dated.csv")
    assert (frame.index == times).all() and any("'Unnamed: 0'" in n for n in notes)
    pd.DataFrame({"y": np.arange(30.0)}).to_csv(tmp_path / "plain.csv")  # row numbers: dropped, said
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert list(read_table(tmp_path / "plain.csv").columns) == ["y"]
    assert any("row numbers" in str(w.message) for w in caught)


def test_empty_series_id_is_refused_with_its_row(tmp_path):
    path = write(tmp_path, "ids.csv", "date,id,y\n2024-01-01,a,1\n2024-01-02,,2\n2024-01-03,a,3\n")
    with pytest.raises(DataError, match=r"Series column 'id' .* empty in 1 row\(s\), the first at row 2"):
        read(path, series_col="id")


def hourly(drop=()):
    times = pd.date_range("2024-01-01", periods=50, freq="h").delete(list(drop))
    return pd.DataFrame({"date": times, "y": np.arange(len(times), dtype=float)})


def test_gaps_are_reported_and_refused():
    with pytest.raises(DataError, match=r"4 missing timestamp\(s\) at its step of 1h: the first at "
                                        r"2024-01-01 05:00:00, the largest gap 3 step\(s\).*--fill-gaps"):
        prepare_frame(hourly(drop=[5, 20, 21, 22]), ["y"])


def test_fill_gaps_reindexes_to_the_grid_then_fills():
    with pytest.warns(DataNote, match=r"added 4 missing timestamp\(s\)"):
        frame = prepare_frame(hourly(drop=[5, 20, 21, 22]), ["y"], fill="interpolate", fill_gaps=True)
    assert len(frame) == 50 and spacing(frame.index).kind == "regular"
    assert frame["y"].iloc[4:7].tolist() == [4.0, 4.5, 5.0]


def test_gaps_per_series_and_monthly_and_integer_steps():
    many = pd.concat([hourly().assign(id="a"), hourly(drop=[7]).assign(id="b")])
    with pytest.raises(DataError, match=r"\(series 'b'\) has 1 missing timestamp"):
        prepare_frame(many, ["y"], series_col="id")
    with pytest.warns(DataNote, match="added 1 missing"):
        filled = prepare_frame(many, ["y"], series_col="id", fill="ffill", fill_gaps=True)
    assert filled.groupby("id", observed=True).size().tolist() == [50, 50]
    months = pd.date_range("2024-01-01", periods=24, freq="MS").delete([3])
    with pytest.raises(DataError, match="1 missing timestamp.*the first at 2024-04-01"):
        prepare_frame(pd.DataFrame({"date": months, "y": np.arange(23.0)}), ["y"])
    with pytest.raises(DataError, match="at its step of 1: the first at 4"):
        prepare_frame(pd.DataFrame({"t": [1, 2, 3, 5, 6], "y": np.arange(5.0)}), ["y"], time_col="t")


def test_irregular_spacing_is_refused():
    rng = np.random.default_rng(0)
    times = pd.Timestamp("2024-01-01") + pd.to_timedelta(np.cumsum(rng.uniform(10, 100, 50)), unit="min")
    with pytest.raises(DataError, match=r"not regularly spaced: \d+ of 49 steps.*resample"):
        prepare_frame(pd.DataFrame({"date": times, "y": np.arange(50.0)}), ["y"], fill="ffill", fill_gaps=True)


def test_data_at_another_step_than_the_model():
    monthly = pd.date_range("2024-01-01", periods=30, freq="MS")
    with pytest.raises(DataError, match="step of 1MS, but the model was trained on data at a step of 1h"):
        future_index(monthly, "h", 3)
    assert len(future_index(pd.date_range("2024-01-01", periods=30, freq="h"), "h", 3)) == 3


def nixtla_frame():
    return pd.DataFrame({"unique_id": np.repeat(["a", "b"], 20),
                         "ds": np.tile(pd.date_range("2024-01-01", periods=20, freq="D"), 2),
                         "y": np.arange(40.0)})


def test_nixtla_long_format_names_series_col():
    with pytest.raises(DataError, match="--series-col unique_id"):
        prepare_frame(nixtla_frame(), ["y"])
    assert len(prepare_frame(nixtla_frame(), ["y"], series_col="unique_id")) == 40


def test_pyarrow_and_polars_tables_are_accepted():
    pa = pytest.importorskip("pyarrow")
    expected = prepare_frame(nixtla_frame(), ["y"], series_col="unique_id")
    got = prepare_frame(pa.Table.from_pandas(nixtla_frame()), ["y"], series_col="unique_id")
    pd.testing.assert_frame_equal(got, expected)
    pl = pytest.importorskip("polars", reason="polars is optional (requirements/dev.txt installs it)")
    got = prepare_frame(pl.from_pandas(nixtla_frame()), ["y"], series_col="unique_id")
    pd.testing.assert_frame_equal(got, expected, check_index_type=False)


def test_something_else_is_refused_by_name():
    with pytest.raises(DataError, match=r"a pandas or polars DataFrame, or a pyarrow Table\); got builtins.list"):
        prepare_frame([[1, 2]], ["y"])


def test_utf16_is_read_and_latin1_names_the_fix(tmp_path):
    (tmp_path / "u16.csv").write_bytes("date,y\n2024-01-01,1\n2024-01-02,2\n".encode("utf-16"))
    assert read_table(tmp_path / "u16.csv")["y"].tolist() == [1, 2]
    (tmp_path / "l1.csv").write_bytes("date,y,é\n2024-01-01,1,2\n".encode("latin-1"))
    with pytest.raises(DataError, match="not UTF-8 text: save it as UTF-8"):
        read_table(tmp_path / "l1.csv")


def test_one_column_in_two_roles_is_refused():
    frame = hourly().assign(id="a")
    with pytest.raises(DataError, match="'date' .* cannot be both the time column and the series column"):
        prepare_frame(frame, ["y"], series_col="date")
    with pytest.raises(DataError, match="'y' .* is both the series column and a column to read as values"):
        prepare_frame(frame, ["y"], series_col="y")
    with pytest.raises(DataError, match="'y' .* is both the time column"):
        prepare_frame(frame, ["y"], time_col="y")


@pytest.mark.parametrize("freq, tz, unit", [("h", None, "us"), ("30min", "Europe/Berlin", "us"),
                                            ("h", None, "s"), ("15min", "Australia/Sydney", "ns"),
                                            ("D", None, "us"), ("MS", None, "us")])
def test_future_index_fast_path_dates_like_date_range(freq, tz, unit):
    from lstmcast.data.io import future_index

    # across DST changes too (Berlin 2024-03-31, Sydney 2024-10-06 are inside these ranges)
    start = {"Europe/Berlin": "2024-03-30", "Australia/Sydney": "2024-10-05"}.get(tz, "2024-01-01")
    index = pd.date_range(start, periods=120, freq=freq, tz=tz, unit=unit, name="time")
    got = future_index(index, freq, 7)
    want = pd.date_range(index[-1], periods=8, freq=freq)[1:]
    assert got.equals(want) and got.dtype == want.dtype and got.name == "time"


def test_regular_arrays_give_what_prepare_frame_gives_or_step_aside():
    """The batch-1 fast path: identical index and values on the frames it takes, and None (the
    full checks of prepare_frame) on every frame that needs a decision or a message."""
    from lstmcast.data.io import prepare_frame, regular_arrays

    n = 30
    hourly = pd.DataFrame({"ds": pd.date_range("2024-01-01", periods=n, freq="h"), "y": np.arange(n, dtype=float),
                           "x": np.arange(n) % 5})
    for frame, time_col in ((hourly, None), (hourly, "ds"), (hourly[["y", "x"]], None)):
        index, values = regular_arrays(frame, ["y", "x"], time_col=time_col)
        tidy = prepare_frame(frame, ["y", "x"], time_col=time_col)
        pd.testing.assert_index_equal(index, tidy.index)
        np.testing.assert_array_equal(values, tidy[["y", "x"]].to_numpy(np.float64))
    nan = hourly.assign(y=hourly["y"].where(hourly.index != 3))
    monthly = hourly.assign(ds=pd.date_range("2024-01-01", periods=n, freq="MS"))  # calendar steps
    unsorted = hourly.iloc[::-1].reset_index(drop=True)
    gap = hourly.drop(index=7).reset_index(drop=True)
    for frame in (nan, monthly, unsorted, gap, hourly.assign(y=hourly["y"] > 3), hourly.assign(y=hourly["y"].astype(str)),
                  hourly.assign(unique_id="a"), hourly.set_index("ds"), hourly.assign(ds=hourly["ds"].astype(str)),
                  hourly.assign(ds=hourly["ds"].dt.tz_localize("Europe/Paris"))):
        assert regular_arrays(frame, ["y", "x"]) is None
    assert regular_arrays(hourly, ["y", "missing"]) is None


def test_a_time_column_found_by_content_is_noted_once_on_either_path():
    from lstmcast.config import DataConfig
    from lstmcast.data.prepare import series_arrays

    n = 12
    dated = pd.DataFrame({"when": pd.date_range("2024-01-01", periods=n, freq="D"), "y": np.arange(n, dtype=float)})
    as_text = dated.assign(when=dated["when"].dt.strftime("%Y-%m-%d"))  # the full path parses the text
    for frame in (dated, as_text):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            series, _ = series_arrays(frame, DataConfig(targets=("y",), horizon=1), None, "the data", ("y",))
        notes = [w for w in caught if issubclass(w.category, DataNote) and "took column 'when'" in str(w.message)]
        assert len(notes) == 1 and series[0].index.name == "when"


def test_a_comma_separated_file_named_tsv_is_read_and_says_why(tmp_path):
    rows = "\n".join(f"2024-01-{i + 1:02d},{i}.5" for i in range(20))
    path = write(tmp_path, "commas.tsv", "date,y\n" + rows)
    frame, notes = read(path)
    assert frame["y"].iloc[:3].tolist() == [0.5, 1.5, 2.5]  # two columns, not one named 'date,y'
    assert any("read commas.tsv as comma-separated: its suffix .tsv says tab-separated, but its header has no tab"
               in n and "rename it to .csv" in n for n in notes), notes
    tabs = write(tmp_path, "tabs.tsv", "date\ty\n" + rows.replace(",", "\t"))  # a real TSV: no note
    frame, notes = read(tabs)
    assert frame["y"].iloc[1] == 1.5 and not any("separated" in n for n in notes)
    text = write(tmp_path, "text.tsv", "name\tnote\n" + "\n".join(f"n{i}\ta,b,c" for i in range(5)))
    assert list(read_table(text).columns) == ["name", "note"]  # commas inside tab-separated fields stay


def test_cap_starts_a_sentence_but_keeps_file_names_and_quoted_names():
    from lstmcast.data.wording import cap

    assert cap("the data") == "The data"
    assert cap("series 'a' of the data") == "Series 'a' of the data"
    for kept in ("daily.csv", "data/x.parquet", "C:\\data\\x.csv", "'a' (series)", "sales.csv (series 'a')"):
        assert cap(kept) == kept
