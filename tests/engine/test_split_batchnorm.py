"""Split BatchNorm against per-group BatchNorm, and the shuffle that puts rows back."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from ssl_engine.split_batchnorm import SplitBatchNorm2d, shuffled_forward, split_batchnorm_


def _trained_bn(channels: int) -> nn.BatchNorm2d:
    bn = nn.BatchNorm2d(channels)
    with torch.no_grad():
        bn.weight.uniform_(0.5, 1.5)
        bn.bias.uniform_(-0.5, 0.5)
        bn.running_mean.uniform_(-1, 1)
        bn.running_var.uniform_(0.5, 2)
    return bn


def test_each_group_is_normalised_with_its_own_statistics() -> None:
    torch.manual_seed(0)
    bn = _trained_bn(3)
    split = split_batchnorm_(nn.Sequential(bn), 4)[0]
    assert isinstance(split, SplitBatchNorm2d)
    x = torch.randn(12, 3, 5, 5) * torch.arange(1, 13).view(12, 1, 1, 1)  # groups differ
    out = split(x)
    for group in range(4):
        rows = x[group::4]  # group j holds samples j, j + 4, j + 8
        expected = F.batch_norm(rows, None, None, bn.weight, bn.bias, True, 0.0, bn.eps)
        torch.testing.assert_close(out[group::4], expected, rtol=1e-4, atol=1e-5)
    whole = F.batch_norm(x, None, None, bn.weight, bn.bias, True, 0.0, bn.eps)
    assert not torch.allclose(out, whole, atol=1e-3)  # not plain BatchNorm over the batch


def test_running_statistics_take_the_mean_of_the_groups_updates() -> None:
    torch.manual_seed(1)
    x = torch.randn(8, 2, 3, 3)
    split = SplitBatchNorm2d(2, num_splits=2)
    split(x)
    groups = [x[0::2], x[1::2]]
    mean = torch.stack([g.mean(dim=(0, 2, 3)) for g in groups]).mean(dim=0)
    var = torch.stack([g.var(dim=(0, 2, 3)) for g in groups]).mean(dim=0)  # unbiased
    torch.testing.assert_close(split.running_mean, 0.1 * mean)
    torch.testing.assert_close(split.running_var, 0.9 + 0.1 * var)
    assert int(split.num_batches_tracked) == 1


def test_evaluation_and_one_split_are_plain_batchnorm_with_the_same_state_dict() -> None:
    torch.manual_seed(2)
    bn = _trained_bn(3)
    x = torch.randn(6, 3, 4, 4)
    split = split_batchnorm_(nn.Sequential(_copy(bn)), 3)[0]
    assert split.state_dict().keys() == bn.state_dict().keys()
    bn.eval(), split.eval()
    torch.testing.assert_close(split(x), bn(x))
    bn.train(), split.train()
    split.num_splits = 1
    torch.testing.assert_close(split(x), bn(x))


def test_a_batch_the_splits_do_not_divide_is_refused() -> None:
    with pytest.raises(ValueError, match="cannot be split"):
        SplitBatchNorm2d(2, num_splits=4)(torch.randn(6, 2, 2, 2))


def test_shuffled_forward_returns_each_rows_output_in_place() -> None:
    torch.manual_seed(3)
    module = nn.Sequential(nn.Flatten(), nn.Linear(12, 4))
    x = torch.randn(10, 3, 2, 2)
    calls: list[torch.Tensor] = []
    module.register_forward_pre_hook(lambda _m, args: calls.append(args[0]))
    torch.testing.assert_close(shuffled_forward(module, x), module(x))
    assert not torch.equal(calls[0], x)  # it did run on a shuffled batch


def _copy(bn: nn.BatchNorm2d) -> nn.BatchNorm2d:
    twin = nn.BatchNorm2d(bn.num_features)
    twin.load_state_dict(bn.state_dict())
    return twin


def test_a_channels_last_batch_comes_back_channels_last() -> None:
    x = torch.randn(8, 3, 4, 4).contiguous(memory_format=torch.channels_last)
    out = SplitBatchNorm2d(3, num_splits=2)(x)
    assert out.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(out, SplitBatchNorm2d(3, num_splits=2)(x.contiguous()))
