"""Config files, overrides and their messages."""

import pytest

from lstmcast.config import ForecastConfig, parse_duration
from lstmcast.errors import ConfigError


def test_toml_round_trip_and_overrides(tmp_path):
    config = ForecastConfig().with_overrides(["model.hidden_size=128", "data.targets=a,b", "train.seed=3"])
    path = tmp_path / "c.toml"
    path.write_text(config.to_toml())
    assert ForecastConfig.from_toml(path) == config
    assert config.data.targets == ("a", "b") and config.model.hidden_size == 128


def test_config_file_errors(tmp_path):
    with pytest.raises(ConfigError, match="Config file .* does not exist"):
        ForecastConfig.from_toml(tmp_path / "none.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[model\nhidden_size = 3")
    with pytest.raises(ConfigError, match="is not valid TOML"):
        ForecastConfig.from_toml(bad)
    with pytest.raises(ConfigError, match=r"Unknown config section\(s\) \['modle'\]"):
        ForecastConfig.from_dict({"modle": {}})
    with pytest.raises(ConfigError, match="model.hidden_size must be an integer; got 'big'"):
        ForecastConfig.from_dict({"model": {"hidden_size": "big"}})
    with pytest.raises(ConfigError, match="must look like section.key=value"):
        ForecastConfig().with_overrides(["hidden_size"])


@pytest.mark.parametrize("text,seconds", [("90", 90.0), ("90s", 90.0), ("5m", 300.0), ("1.5h", 5400.0)])
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


def test_bad_duration():
    with pytest.raises(ConfigError, match="must look like 90, 90s, 5m or 1.5h"):
        parse_duration("soon")
