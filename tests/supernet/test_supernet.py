"""The supernet: `build(space.largest())` module for module, running every point of the space; `extract`
gives `build(spec)` with the inherited weights, equal to the supernet in that configuration and counted
exactly by `count`."""
import contextlib
import dataclasses

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from search_spaces import backbones
from search_spaces.counting import count
from search_spaces.errors import SpaceError
from search_spaces.network import build
from search_spaces.spaces.elastic import SPACE, ElasticSpace
from search_spaces.supernet import Supernet

SIDE = 32  # the forward passes run small; the specs keep their own resolutions


def randomized(net: Supernet, seed: int = 0) -> Supernet:
    """Every weight and BN statistic moved off its initial value, so a wrong slice cannot hide."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.1 * torch.randn(p.shape, generator=gen))
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.copy_(0.3 * torch.randn(m.num_features, generator=gen))
                m.running_var.copy_(0.5 + torch.rand(m.num_features, generator=gen))
    return net.eval()


@pytest.fixture(scope="module")
def supernet():
    torch.manual_seed(0)
    return randomized(Supernet(SPACE, in_channels=1, num_classes=10))


def shapes(module):
    return {k: tuple(v.shape) for k, v in module.state_dict().items()}


def test_the_supernet_is_the_largest_network_module_for_module(supernet):
    with torch.device("meta"):
        largest = build(supernet.largest, init=False)
    assert shapes(supernet) == shapes(largest)
    assert supernet.largest == dataclasses.replace(SPACE.largest(), in_channels=1, num_classes=10)


def test_100_random_points_extract_equal_and_count_exactly(supernet):
    # every point: outputs equal (eval), parameters counted exactly; every tenth also against PyTorch's FLOP
    # counter and an independent build(spec) (extract loads build(spec) strictly, keys and shapes alike)
    x = torch.randn(2, 1, SIDE, SIDE, generator=torch.Generator().manual_seed(1))
    points = [SPACE.smallest(), SPACE.largest()] + [SPACE.sample(seed) for seed in range(98)]
    worst = 0.0
    for i, spec in enumerate(points):
        adapted = supernet.select(spec)
        module = supernet.extract(spec).eval()
        with torch.inference_mode():
            expected = supernet(x)
            with FlopCounterMode(display=False) if i % 10 == 0 else contextlib.nullcontext() as flops:
                got = module(x)
        worst = max(worst, (got - expected).abs().max().item())
        assert expected.abs().max() > 1  # outputs that mean something, not a vanished signal
        assert sum(p.numel() for p in module.parameters()) == count(adapted).params
        if i % 10 == 0:
            assert flops.get_total_flops() == 2 * 2 * count(adapted, SIDE).macs  # 2 per multiply-add, batch 2
            with torch.device("meta"):
                assert shapes(module) == shapes(build(adapted, init=False))
    assert worst <= 1e-5


def test_extracted_weights_are_copies(supernet):
    module = supernet.extract(SPACE.smallest())
    with torch.no_grad():
        module.s2.b1.project.conv.weight.zero_()
    assert supernet.s2.b1.project.conv.weight.abs().sum() > 0


def test_a_sub_network_trains_only_its_slices():
    torch.manual_seed(0)
    net = Supernet(SPACE, in_channels=1, num_classes=10).train()
    spec = SPACE.smallest()  # kernel 3, expansion 3, depth 2 everywhere
    net.select(spec)
    before = net.s3.b1.dw.bn.running_mean.clone()
    net(torch.randn(4, 1, SIDE, SIDE)).sum().backward()
    dw = net.s3.b1.dw.conv.weight  # 24 * 3 = 72 of 144 expanded channels, centre 3x3 of 7x7
    assert dw.grad[:72, :, 2:5, 2:5].abs().sum() > 0
    assert dw.grad[72:].abs().sum() == 0 and dw.grad[:, :, :2].abs().sum() == 0
    assert net.s3.b3.dw.conv.weight.grad is None  # block 3 is beyond the depth
    after = net.s3.b1.dw.bn.running_mean
    assert not torch.equal(after[:72], before[:72]) and torch.equal(after[72:], before[72:])


def test_sorting_channels_keeps_the_largest_network_and_changes_the_smaller():
    net = randomized(Supernet(SPACE, in_channels=1, num_classes=10), seed=3)
    x = torch.randn(2, 1, SIDE, SIDE)
    with torch.no_grad():
        largest = net(x)
        net.select(SPACE.smallest())
        smallest = net(x)
        net.sort_channels()
        assert not torch.allclose(net(x), smallest)
        net.select(SPACE.largest())
        assert torch.allclose(net(x), largest, atol=1e-4, rtol=1e-5)
    project = net.s4.b1.project.conv.weight.abs().sum(dim=(0, 2, 3))
    assert torch.all(project[:-1] >= project[1:])  # most important expanded channel first


def test_sorting_reorders_the_optimizer_momentum_with_the_weights():
    net = randomized(Supernet(SPACE, in_channels=1, num_classes=10), seed=5)
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    for p in net.parameters():
        opt.state[p]["momentum_buffer"] = p.detach().clone()  # a buffer equal to its weight stays equal
    before = net.s4.b2.dw.conv.weight.clone()
    net.sort_channels(opt)
    assert not torch.equal(net.s4.b2.dw.conv.weight, before)  # channels moved
    assert all(torch.equal(opt.state[p]["momentum_buffer"], p) for p in net.parameters())


def test_width_choices_slice_stage_outputs():
    space = ElasticSpace.grow("efficientnet_b0", widths=(0.75, 1.0), resolutions=(192, 224))
    net = randomized(Supernet(space, in_channels=3, num_classes=5))
    x = torch.randn(2, 3, SIDE, SIDE)
    for spec in [space.point(width=0.75, pick=0)] + [space.sample(seed) for seed in range(6)]:
        net.select(spec)
        with torch.no_grad():
            assert (net.extract(spec).eval()(x) - net(x)).abs().max() <= 1e-5


def test_only_points_of_the_space_run():
    net = Supernet(SPACE)
    with pytest.raises(SpaceError, match="not a point of space 'elastic_mbv3'"):
        net.select(backbones.get("mobilenet_v3_large"))
    with pytest.raises(SpaceError, match="not a point of space"):
        net.extract(backbones.get("resnet18"))
    with pytest.raises(SpaceError, match="made from an elastic space"):
        Supernet(backbones.get("resnet18"))
