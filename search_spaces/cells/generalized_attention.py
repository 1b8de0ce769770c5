"""Generalized spatial attention (Zhu, Cheng, Zhang, Lin, Dai, "An Empirical Study of Spatial Attention
Mechanisms in Deep Networks", ICCV 2019), as the authors released it in mmcv's `GeneralizedAttention`
(mmcv/cnn/bricks/generalized_attention.py).

Every query position attends over the key/value positions with an energy that sums up to four terms,
switched on by the bits of `pattern` (mmcv's `attention_type`):

1. query and key content (Transformer attention: query . key);
2. query content and relative position (query . W_pos embed(q - k));
3. key content only (a learned vector . key: a saliency of each key, the same for every query);
4. relative position only (a learned vector . W_pos embed(q - k)).

`heads` heads of width in // heads; keys and values on the map subsampled by `kv_stride`, queries by
`q_stride` (the output is then resized back, bilinearly); `spatial_range` >= 0 keeps, per axis, the keys
within that many input pixels of the query (-1: the whole map); the relative position embedding is the
sinusoid of Vaswani et al. over `position_dim` features (0: the input width) of the coordinate differences
times `position_magnitude`. A 1x1 conv (with bias) projects the result back to the input width, and the
module returns x + gamma * that, gamma a learned scalar starting at 0. With the key-content term alone and
no spatial range every query gets the same weights, so, as mmcv does, the result is computed once per
image (a 1x1 map added to every position): pattern "0010" costs no query-by-key product.

Differences from mmcv, none of which changes a parameter count or, at batch 1, a multiply-add: mmcv builds
the spatial-range mask as a fixed table for 256 and 512 input channels only (and applies it wrongly on the
"0010" shortcut); here the mask is computed for any map, a key allowed when its row and column lie within
the range of the query's (in input pixels, floored to the key grid). mmcv runs the position projections
once per batch and repeats them; here they run once per image, so the count is per image at any batch.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from search_spaces.cells.base import Cell
from search_spaces.cost import Cost, Shape
from search_spaces.errors import SpecError, check_int, require

PATTERNS = tuple(f"{i:04b}" for i in range(16))  # '0000' .. '1111': mmcv's attention_type strings
WAVE_LENGTH = 1000  # of the sinusoidal position embedding (mmcv's get_position_embedding)


@dataclass(frozen=True)
class GeneralizedAttentionArgs:
    """The paper's module; the defaults are mmcv's (the released detectors use heads=8, pattern '1111' or
    '0010', kv_stride=2)."""

    heads: int = 9
    pattern: str = "1111"  # bits: query-key content, query-position, key content, position only
    kv_stride: int = 2  # subsampling of the keys and values
    q_stride: int = 1  # subsampling of the queries (the output is resized back)
    spatial_range: int = -1  # keys within this many input pixels per axis; -1: the whole map
    position_dim: int = 0  # relative position embedding width; 0: the input width; a multiple of 4
    position_magnitude: int = 1  # multiplies the coordinate differences

    def __post_init__(self) -> None:
        check_int("generalized_attention", "heads", self.heads, 1, 1024)
        if self.pattern not in PATTERNS:
            raise SpecError(f"generalized_attention pattern must be four 0/1 characters (query-key, query-position, "
                            f"key, position), e.g. '0010'; got {self.pattern!r}")
        check_int("generalized_attention", "kv_stride", self.kv_stride, 1, 8)
        check_int("generalized_attention", "q_stride", self.q_stride, 1, 8)
        check_int("generalized_attention", "spatial_range", self.spatial_range, -1, 4096)
        check_int("generalized_attention", "position_dim", self.position_dim, 0, 1 << 16)
        check_int("generalized_attention", "position_magnitude", self.position_magnitude, 1, 1024)

    @property
    def terms(self) -> tuple[bool, bool, bool, bool]:
        """Which of the four energy terms are on."""
        return tuple(bit == "1" for bit in self.pattern)  # type: ignore[return-value]

    @property
    def global_context(self) -> bool:
        """Key content alone and no range: one set of weights for every query (computed once per image)."""
        return self.pattern == "0010" and self.spatial_range < 0


def _sub(size: int, stride: int) -> int:
    """Side of a map subsampled by `stride` (mmcv's AvgPool2d(1, stride), our strided slice)."""
    return (size - 1) // stride + 1


def relative_embedding(size_q: int, size_k: int, stride_q: int, stride_k: int, magnitude: int, dim: int,
                       like: Tensor) -> Tensor:
    """(size_q, size_k, dim / 2) sinusoid features of the query-key coordinate differences along one axis,
    in input pixels times `magnitude` (mmcv's get_position_embedding)."""
    q = torch.arange(size_q, device=like.device, dtype=like.dtype) * stride_q
    k = torch.arange(size_k, device=like.device, dtype=like.dtype) * stride_k
    diff = (q[:, None] - k[None, :]) * magnitude
    freq = WAVE_LENGTH ** (torch.arange(dim // 4, device=like.device, dtype=like.dtype) * (4.0 / dim))
    angle = diff[..., None] / freq
    return torch.cat((angle.sin(), angle.cos()), dim=-1)


def range_mask(h: int, w: int, hk: int, wk: int, a: GeneralizedAttentionArgs, device: torch.device) -> Tensor:
    """(h * w, hk * wk) True where a key lies outside the query's spatial range on either axis."""

    def axis(size_q: int, size_k: int) -> Tensor:
        i = torch.arange(size_q, device=device) * a.q_stride
        j = torch.arange(size_k, device=device)
        low = torch.div(i - a.spatial_range, a.kv_stride, rounding_mode="floor")
        high = torch.div(i + a.spatial_range, a.kv_stride, rounding_mode="floor")
        return (j[None, :] < low[:, None]) | (j[None, :] > high[:, None])

    rows, cols = axis(h, hk), axis(w, wk)
    return (rows[:, None, :, None] | cols[None, :, None, :]).reshape(h * w, hk * wk)


class GeneralizedAttention(nn.Module):
    """x + gamma * proj(attention over the key/value map), with the energy terms of `pattern`."""

    def __init__(self, channels: int, a: GeneralizedAttentionArgs):
        super().__init__()
        query_key, query_position, key_only, position_only = a.terms
        self.args = a
        self.heads, self.dim = a.heads, channels // a.heads
        width = self.heads * self.dim
        if query_key or query_position:
            self.query = nn.Conv2d(channels, width, 1, bias=False)
        if query_key or key_only:
            self.key = nn.Conv2d(channels, width, 1, bias=False)
        self.value = nn.Conv2d(channels, width, 1, bias=False)
        if query_position or position_only:
            features = (a.position_dim or channels) // 2
            self.position_x = nn.Linear(features, width, bias=False)
            self.position_y = nn.Linear(features, width, bias=False)
        bound = 1.0 / math.sqrt(2 * self.dim)  # mmcv's uniform init of the two learned vectors
        if key_only:
            self.key_bias = nn.Parameter(torch.empty(width).uniform_(-bound, bound))  # mmcv appr_bias
        if position_only:
            self.position_bias = nn.Parameter(torch.empty(width).uniform_(-bound, bound))  # mmcv geom_bias
        self.proj = nn.Conv2d(width, channels, 1, bias=True)
        self.gamma = nn.Parameter(torch.zeros(1))

    def forward(self, x: Tensor) -> Tensor:
        a, (n, _, height, width) = self.args, x.shape
        xq = x[:, :, ::a.q_stride, ::a.q_stride]
        xkv = x[:, :, ::a.kv_stride, ::a.kv_stride]
        (h, w), (hk, wk) = xq.shape[2:], xkv.shape[2:]
        m, d = self.heads, self.dim
        value = self.value(xkv).view(n, m, d, hk * wk).transpose(2, 3)  # (n, m, L, d)
        if a.global_context:
            energy = torch.matmul(self.key_bias.view(1, m, 1, d), self.key(xkv).view(n, m, d, hk * wk))
            out = torch.matmul(energy.softmax(-1), value)  # (n, m, 1, d): the same for every position
            return x + self.gamma * self.proj(out.transpose(2, 3).reshape(n, m * d, 1, 1))
        energy = self._energy(xq, xkv).view(n, m, h * w, hk * wk)
        if a.spatial_range >= 0:
            energy = energy.masked_fill(range_mask(h, w, hk, wk, a, x.device), float("-inf"))
        out = torch.matmul(energy.softmax(-1), value)  # (n, m, N, d)
        out = self.proj(out.transpose(2, 3).reshape(n, m * d, h, w))
        if (h, w) != (height, width):
            out = F.interpolate(out, size=(height, width), mode="bilinear", align_corners=False)
        return x + self.gamma * out

    def _energy(self, xq: Tensor, xkv: Tensor) -> Tensor:
        """(n, m, h, w, hk, wk) energies: the sum of the terms that are on, each computed as mmcv does (a term
        paired with its learned vector shares one product: (query + vector) . key)."""
        query_key, query_position, key_only, position_only = self.args.terms
        (n, _, h, w), (hk, wk) = xq.shape, xkv.shape[2:]
        m, d = self.heads, self.dim
        energy = xq.new_zeros(n, m, h, w, hk, wk)
        query = self.query(xq).view(n, m, d, h * w).transpose(2, 3) if query_key or query_position else None
        if query_key or key_only:
            key = self.key(xkv).view(n, m, d, hk * wk)
            if query_key:
                q = query + self.key_bias.view(1, m, 1, d) if key_only else query
                energy = energy + torch.matmul(q, key).view(n, m, h, w, hk, wk)
            else:
                energy = energy + torch.matmul(self.key_bias.view(1, m, 1, d), key).view(n, m, 1, 1, hk, wk)
        if query_position or position_only:
            px, py = self._positions(n, h, w, hk, wk, xq)
            if query_position:
                q = query + self.position_bias.view(1, m, 1, d) if position_only else query
                q = q.reshape(n, m, h, w, d)
                along_x = torch.matmul(q.transpose(2, 3), px.transpose(3, 4))  # (n, m, w, h, wk)
                along_y = torch.matmul(q, py.transpose(3, 4))  # (n, m, h, w, hk)
                energy = energy + along_x.transpose(2, 3).unsqueeze(4) + along_y.unsqueeze(5)
            else:
                vector = self.position_bias.view(1, m, d, 1)
                along_x = torch.matmul(px.reshape(n, m, w * wk, d), vector).view(n, m, 1, w, 1, wk)
                along_y = torch.matmul(py.reshape(n, m, h * hk, d), vector).view(n, m, h, 1, hk, 1)
                energy = energy + along_x + along_y
        return energy

    def _positions(self, n: int, h: int, w: int, hk: int, wk: int, like: Tensor) -> tuple[Tensor, Tensor]:
        """Projected relative positions per image: (n, m, w, wk, d) along x and (n, m, h, hk, d) along y."""
        a, m, d = self.args, self.heads, self.dim
        dim = 2 * self.position_x.in_features
        ex = relative_embedding(w, wk, a.q_stride, a.kv_stride, a.position_magnitude, dim, like)
        ey = relative_embedding(h, hk, a.q_stride, a.kv_stride, a.position_magnitude, dim, like)
        px = self.position_x(ex.expand(n, -1, -1, -1)).view(n, w, wk, m, d).permute(0, 3, 1, 2, 4)
        py = self.position_y(ey.expand(n, -1, -1, -1)).view(n, h, hk, m, d).permute(0, 3, 1, 2, 4)
        return px / math.sqrt(2), py / math.sqrt(2)


def generalized_attention_cost(a: GeneralizedAttentionArgs, shape: Shape) -> Cost:
    """Cost twin of GeneralizedAttention on a `shape` map (which it keeps): its 1x1 convs, the position
    projections and every matrix product, per image."""
    query_key, query_position, key_only, position_only = a.terms
    c = shape.c
    require(a.heads <= c, f"generalized_attention heads={a.heads} needs at least as many input channels, got {c}")
    width = a.heads * (c // a.heads)
    h, w = _sub(shape.h, a.q_stride), _sub(shape.w, a.q_stride)
    hk, wk = _sub(shape.h, a.kv_stride), _sub(shape.w, a.kv_stride)
    queries = 1 if a.global_context else h * w  # rows of the attention matrix
    keys = hk * wk
    macs = params = acts = 0
    for on, area in ((query_key or query_position, h * w), (query_key or key_only, keys), (True, keys)):
        if on:  # the query, key and value 1x1 convs
            macs, params, acts = macs + c * width * area, params + c * width, acts + width * area
    if query_position or position_only:
        dim = a.position_dim or c
        require(dim % 4 == 0, f"generalized_attention relative positions need a position_dim divisible by 4, "
                              f"got {dim}" + (" (the input width)" if not a.position_dim else ""))
        pairs = w * wk + h * hk  # embedded coordinate pairs along x and along y
        macs, params, acts = macs + pairs * dim // 2 * width, params + dim * width, acts + pairs * width
        if query_position:
            macs += width * h * w * (wk + hk)  # query . position, shared with the position-only vector
        else:
            macs += width * pairs  # position-only vector . position
    if key_only and not query_key:
        macs += width * keys  # key-only vector . key
    if query_key:
        macs += width * h * w * keys  # (query [+ key-only vector]) . key
    macs += width * queries * keys  # attention . value
    macs, params, acts = macs + width * c * queries, params + width * c + c, acts + c * queries  # projection
    params += width * (key_only + position_only) + 1  # the learned vectors and gamma
    return Cost(macs, params, acts)


def _build(a: GeneralizedAttentionArgs, in_channels: int) -> nn.Module:
    return GeneralizedAttention(in_channels, a)


def _cost(a: GeneralizedAttentionArgs, shape: Shape) -> tuple[Cost, Shape]:
    return generalized_attention_cost(a, shape), shape


CELLS = (
    Cell("generalized_attention", GeneralizedAttentionArgs, _build, _cost,
         "Zhu et al. 2019 spatial attention: four switchable energy terms, heads, key/value stride, range"),
)
