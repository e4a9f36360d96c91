"""Option values beyond what the machine or torch can take: a ConfigError (exit 2) naming the key
and its bounds, never a segfault, an overflow or a traceback."""

from __future__ import annotations

import pytest

from lstmcast.cli import main
from lstmcast.config import ForecastConfig
from lstmcast.errors import ConfigError
from tests.conftest import dated_frame


@pytest.mark.parametrize("override,message", [
    ("train.seed=9223372036854775808", r"train.seed must be at most 9223372036854775807 \(2\^63 - 1"),
    ("train.threads=100000000", r"train.threads must be at most 1024"),
    ("model.hidden_size=1000000000", r"model.hidden_size must be at most 16384"),
    ("model.num_layers=100000", r"model.num_layers must be at most 64"),
    ("data.input_length=10000000000", r"data.input_length must be at most 1000000"),
    ("train.batch_size=100000000000", r"train.batch_size must be at most"),
    ("train.learning_rate=inf", r"train.learning_rate must be a positive finite number"),
    ("train.device='cpu:abc'", r"train.device must be auto, cpu, cuda, cuda:N"),
    ("train.device='cuda:x'", r"train.device must be auto, cpu, cuda, cuda:N"),
    ("train.seed=inf", r"train.seed must be an integer"),
    ("model.skip_cycles=0", r"model.skip_cycles must be an integer >= 1; got 0"),
])
def test_out_of_bounds_overrides(override, message):
    with pytest.raises(ConfigError, match=message):
        ForecastConfig().with_overrides([override])


def test_mps_or_missing_cuda_device_is_refused_when_absent():
    import torch

    from lstmcast.forecaster import resolve_device

    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        pytest.skip("this machine has MPS; the refusal is for machines without it")
    with pytest.raises(ConfigError, match="MPS is not available here.*--device cpu"):
        resolve_device("mps")
    n = torch.cuda.device_count()
    with pytest.raises(ConfigError, match="CUDA"):
        resolve_device(f"cuda:{n}")


@pytest.mark.parametrize("content,message", [
    (b"\x00\xff\xfe\x89PNG\r\n\x1a\n" * 20, "is not UTF-8 text"),
    (b"[[model]]\nhidden_size = 8\n[[model]]\nhidden_size = 16\n", r"got an array of tables \(\[\[model\]\]\)"),
    (b"model = 'small'\n", "must be one table of key = value lines"),
])
def test_bad_toml_files(tmp_path, content, message):
    path = tmp_path / "c.toml"
    path.write_bytes(content)
    with pytest.raises(ConfigError, match=message):
        ForecastConfig.from_toml(path)


@pytest.fixture(scope="module")
def csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("d") / "h.csv"
    dated_frame(80, columns=1).to_csv(path, index=False)
    return path


@pytest.mark.parametrize("args,message", [
    (["--seed", str(2**64)], "train.seed must be at most"),
    (["--device", "cpu:abc"], "train.device must be"),
    (["--device", "mps"], "MPS is not available"),
    (["--set", "train.threads=99999999999"], "train.threads must be at most 1024"),
    (["--set", "model.hidden_size=1000000000"], "model.hidden_size must be at most 16384"),
])
def test_cli_exit_2_with_the_message(csv, tmp_path, capsys, args, message):
    import torch

    if "mps" in args and getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        pytest.skip("this machine has MPS")
    code = main(["train", "--data", str(csv), "--out", str(tmp_path / "m"), "--set", "train.max_epochs=1",
                 "--quiet", *args])
    err = capsys.readouterr().err
    assert code == 2 and message in err and "Traceback" not in err


@pytest.mark.parametrize("flag,value,message", [("--port", "70000", "--port must be a TCP port in 1..65535"),
                                                ("--port", "0", "--port must be a TCP port"),
                                                ("--workers", "0", "--workers must be in 1..256")])
def test_serve_port_and_workers(tmp_path, capsys, flag, value, message):
    assert main(["serve", "--model", str(tmp_path), flag, value, "--quiet"]) == 2
    assert message in capsys.readouterr().err


def test_ctrl_c_in_a_command_is_one_line(monkeypatch, capsys):
    import lstmcast.cli as cli

    def interrupted(args):
        raise KeyboardInterrupt  # as when Ctrl-C lands while a command imports torch

    parser = cli.build_parser()
    monkeypatch.setattr(cli, "build_parser", lambda: parser)
    parser._subparsers._group_actions[0].choices["predict"].set_defaults(func=interrupted)
    assert main(["predict", "--model", "m", "--data", "d.csv"]) == 130
    err = capsys.readouterr().err
    assert err.startswith("lstmcast predict: interrupted") and "Traceback" not in err
