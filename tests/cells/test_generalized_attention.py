"""Zhu et al.'s generalized attention: exact cost over a grid of its arguments (every matrix product
included), its parameters against the authors' module definition, its output against the paper's formula
written out directly, and one-line errors.

The authors' module is mmcv's GeneralizedAttention (open-mmlab/mmcv, mmcv/cnn/bricks/generalized_attention.py,
commit 19a024155a0b710568c2faeae07dead2a5550392); the facts below are typed from its __init__ and forward."""
import itertools
import math

import pytest
import torch

from search_spaces import SpecError
from search_spaces.cells import get
from search_spaces.cells.generalized_attention import PATTERNS, GeneralizedAttention
from search_spaces.cells.generalized_attention import GeneralizedAttentionArgs as GA
from search_spaces.cost import Shape
from tests.exact import assert_exact_cell

# (heads, kv_stride, q_stride, spatial_range, position_dim, magnitude, shape): odd sides, heads not dividing
# the width, queries subsampled, a range of 0 (each query's own cell), an explicit embedding width
SETTINGS = [
    (4, 2, 1, -1, 0, 1, Shape(16, 7, 9)),
    (3, 1, 2, 1, 8, 2, Shape(12, 5, 6)),
    (1, 3, 1, 2, 0, 1, Shape(8, 6, 5)),
    (5, 2, 2, 0, 12, 1, Shape(10, 9, 7)),
    (8, 2, 1, -1, 0, 1, Shape(32, 14, 14)),
]
GRID = [(p, *s) for p in PATTERNS for s in SETTINGS]


@pytest.mark.parametrize("pattern,heads,kv,q,rng,dim,mag,shape", GRID,
                         ids=[f"{g[0]}-{i % len(SETTINGS)}" for i, g in enumerate(GRID)])
def test_cost_is_exact_over_every_pattern(pattern, heads, kv, q, rng, dim, mag, shape):
    # FlopCounterMode counts the 1x1 convs, the position Linears and every matmul (bmm) of the forward
    assert_exact_cell("generalized_attention", GA(heads, pattern, kv, q, rng, dim, mag), shape)


# mmcv __init__, in_channels=256, num_heads=8 (qk_embed_dim = v_dim = 32, out_c = 256), position_embedding_dim
# -1 (= 256): query_conv / key_conv / value_conv 1x1 256->256 without bias (query when '1000' or '0100' is on,
# key when '1000' or '0010'), appr_geom_fc_x / _y Linear(128, 256, bias=False) (when '0100' or '0001'),
# appr_bias (256,) ('0010'), geom_bias (256,) ('0001'), proj_conv 1x1 256->256 with bias, gamma (1,)
MMCV_SHAPES = {
    "query.weight": (256, 256, 1, 1), "key.weight": (256, 256, 1, 1), "value.weight": (256, 256, 1, 1),
    "position_x.weight": (256, 128), "position_y.weight": (256, 128), "key_bias": (256,),
    "position_bias": (256,), "proj.weight": (256, 256, 1, 1), "proj.bias": (256,), "gamma": (1,),
}
MMCV_PARAMS = {"1111": 328_449, "0010": 197_121, "0000": 131_329, "1000": 262_401, "0101": 262_657}


def test_parameters_follow_the_authors_module():
    with torch.device("meta"):
        full = GeneralizedAttention(256, GA(8, "1111"))
        assert {k: tuple(v.shape) for k, v in full.named_parameters()} == MMCV_SHAPES
        for pattern, expected in MMCV_PARAMS.items():
            module = GeneralizedAttention(256, GA(8, pattern))
            assert sum(p.numel() for p in module.parameters()) == expected
            assert get("generalized_attention").cost(GA(8, pattern), Shape(256, 14, 14))[0].params == expected
    with torch.device("meta"):  # the '0010' shortcut: no query conv, and the projection runs on one position
        module = GeneralizedAttention(256, GA(8, "0010"))
    assert not hasattr(module, "query") and not hasattr(module, "position_x")


def _sinusoid(diff: torch.Tensor, dim: int) -> torch.Tensor:
    """mmcv get_position_embedding: sin then cos of diff / 1000 ** (4 f / dim), f < dim / 4."""
    freq = 1000.0 ** (torch.arange(dim // 4, dtype=diff.dtype) * 4.0 / dim)
    return torch.cat(((diff[..., None] / freq).sin(), (diff[..., None] / freq).cos()), -1)


def _by_the_formula(module: GeneralizedAttention, a: GA, x: torch.Tensor) -> torch.Tensor:
    """The paper's energy, term by term over every (query, key) pair, from the module's weights."""
    n, c, height, width = x.shape
    m, d = module.heads, module.dim
    xq, xk = x[:, :, ::a.q_stride, ::a.q_stride], x[:, :, ::a.kv_stride, ::a.kv_stride]
    (h, w), (hk, wk) = xq.shape[2:], xk.shape[2:]
    iy, ix = [t.flatten() for t in torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")]
    jy, jx = [t.flatten() for t in torch.meshgrid(torch.arange(hk), torch.arange(wk), indexing="ij")]

    def heads(conv, t):  # (n, m, positions, d)
        return conv(t).reshape(n, m, d, -1).transpose(2, 3)

    energy = torch.zeros(n, m, h * w, hk * wk, dtype=x.dtype)
    t0, t1, t2, t3 = a.terms
    if t0 or t2:
        key = heads(module.key, xk)
    if t0:
        energy += torch.einsum("nmid,nmjd->nmij", heads(module.query, xq), key)
    if t2:
        energy += torch.einsum("md,nmjd->nmj", module.key_bias.view(m, d), key)[:, :, None, :]
    if t1 or t3:
        dim = 2 * module.position_x.in_features
        dx = (ix[:, None] * a.q_stride - jx[None, :] * a.kv_stride).to(x.dtype) * a.position_magnitude
        dy = (iy[:, None] * a.q_stride - jy[None, :] * a.kv_stride).to(x.dtype) * a.position_magnitude
        rel = (module.position_x(_sinusoid(dx, dim)) + module.position_y(_sinusoid(dy, dim))) / math.sqrt(2)
        rel = rel.view(h * w, hk * wk, m, d)  # (i, j, m, d)
        if t1:
            energy += torch.einsum("nmid,ijmd->nmij", heads(module.query, xq), rel)
        if t3:
            energy += torch.einsum("md,ijmd->mij", module.position_bias.view(m, d), rel)[None]
    if a.spatial_range >= 0:  # a key is in range when its row and column are within the range of the query's
        def far(i, j):  # in input pixels, floored to the key grid
            centre = i[:, None] * a.q_stride
            return ((j[None, :] < (centre - a.spatial_range).div(a.kv_stride, rounding_mode="floor"))
                    | (j[None, :] > (centre + a.spatial_range).div(a.kv_stride, rounding_mode="floor")))

        energy = energy.masked_fill(far(iy, jy) | far(ix, jx), float("-inf"))
    out = torch.einsum("nmij,nmjd->nmid", energy.softmax(-1), heads(module.value, xk))
    out = module.proj(out.transpose(2, 3).reshape(n, m * d, h, w))
    out = torch.nn.functional.interpolate(out, size=(height, width), mode="bilinear", align_corners=False)
    return x + module.gamma * out


@pytest.mark.parametrize("pattern,q,rng", [(p, q, r) for p, (q, r) in itertools.product(
    PATTERNS, [(1, -1), (2, 1)])])
def test_output_is_the_papers_formula(pattern, q, rng):
    a = GA(heads=2, pattern=pattern, kv_stride=2, q_stride=q, spatial_range=rng, position_dim=8, position_magnitude=2)
    torch.manual_seed(0)
    module = GeneralizedAttention(6, a).double()
    with torch.no_grad():
        module.gamma.fill_(0.7)  # 0 at initialisation, which would hide the attention
        x = torch.randn(2, 6, 5, 7, dtype=torch.float64)
        assert torch.allclose(module(x), _by_the_formula(module, a, x), atol=1e-10)


def test_key_content_alone_is_one_context_per_image():
    # every query has the same weights, so the attention adds the same vector at every position
    torch.manual_seed(0)
    module = GeneralizedAttention(8, GA(2, "0010"))
    with torch.no_grad():
        module.gamma.fill_(1.0)
        x = torch.randn(2, 8, 6, 6)
        added = module(x) - x
    assert torch.allclose(added, added[:, :, :1, :1].expand_as(added), atol=1e-6)


@pytest.mark.parametrize("make,message", [
    (lambda: GA(pattern="12"), "generalized_attention pattern must be four 0/1 characters"),
    (lambda: GA(pattern="00100"), "generalized_attention pattern must be four 0/1 characters"),
    (lambda: GA(heads=0), r"generalized_attention heads must be in \[1, 1024\], got 0"),
    (lambda: GA(kv_stride=0), r"generalized_attention kv_stride must be in \[1, 8\], got 0"),
    (lambda: GA(spatial_range=-2), r"generalized_attention spatial_range must be in \[-1, 4096\], got -2"),
    (lambda: GA(position_magnitude=1.5), "generalized_attention position_magnitude must be an integer"),
])
def test_invalid_arguments_raise_one_line_errors(make, message):
    with pytest.raises(SpecError, match=message):
        make()


def test_errors_that_depend_on_the_input():
    cost = get("generalized_attention").cost
    with pytest.raises(SpecError, match="heads=9 needs at least as many input channels, got 8"):
        cost(GA(9), Shape(8, 4, 4))
    with pytest.raises(SpecError, match="position_dim divisible by 4, got 6 \\(the input width\\)"):
        cost(GA(2, "0100"), Shape(6, 4, 4))
    assert cost(GA(2, "1010"), Shape(6, 4, 4))[1] == Shape(6, 4, 4)  # no position term: any width
