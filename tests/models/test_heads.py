"""The head registry: the config's names and the built heads agree."""

from __future__ import annotations

import pytest
import torch

from lstmcast import config
from lstmcast.models.heads import HEADS, GaussianHead, PointHead, QuantileHead, make_head


def test_config_names_every_registered_head():
    # config.py stays torch-free, so it keeps its own tuple of names: the two must not drift apart
    assert sorted(config.HEADS) == sorted(HEADS)


@pytest.mark.parametrize("kind,cls,n_params", [("point", PointHead, 1), ("gaussian", GaussianHead, 2),
                                               ("quantile", QuantileHead, 3)])
def test_make_head_builds_the_registered_class(kind, cls, n_params):
    head = make_head(kind, 8, 4, 2, (0.1, 0.5, 0.9))
    assert type(head) is cls
    assert head(torch.zeros(5, 8)).shape == (5, 4, 2, n_params)  # [B, D] -> [B, H, T, P]


def test_unknown_head_lists_the_registry():
    with pytest.raises(ValueError, match="Unknown head 'laplace'; expected one of point, gaussian, quantile"):
        make_head("laplace", 8, 4, 2, ())
