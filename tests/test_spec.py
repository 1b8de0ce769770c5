"""Specs: validation messages, lossless JSON, stable digests, and the count walk on literal networks."""
import dataclasses
import json

import pytest

from search_spaces.cells.conv import ConvArgs, PoolArgs
from search_spaces.cells.head import ClassifierArgs
from search_spaces.counting import count
from search_spaces.errors import SpecError
from search_spaces.spec import Block, NetSpec, Stage, from_json
from tests.exact import assert_exact_network

HEAD = (Block("classifier", ClassifierArgs()),)


def tiny(resolution: int = 32) -> NetSpec:
    return NetSpec(
        stem=(Block("conv", ConvArgs(8, 3, 2)), Block("maxpool", PoolArgs(3, 2, 1))),
        stages=(Stage((Block("conv", ConvArgs(16, 3, 1), repeats=2),)), Stage((Block("conv", ConvArgs(24, 3, 2)),))),
        head=HEAD,
        resolution=resolution,
        num_classes=10,
    )


def test_count_by_hand():
    # 32 -> conv 3x3/2 -> 16 -> maxpool -> 8 -> conv 16 (x2) -> 8 -> conv 24 /2 -> 4 -> fc 10
    macs = 8 * 3 * 9 * 16 * 16 + 16 * 8 * 9 * 64 + 16 * 16 * 9 * 64 + 24 * 16 * 9 * 16 + 24 * 10
    params = (8 * 27 + 16) + (16 * 72 + 32) + (16 * 144 + 32) + (24 * 144 + 48) + (24 * 10 + 10)
    assert count(tiny()) == dataclasses.replace(count(tiny()), macs=macs, params=params)
    assert assert_exact_network(tiny()) == (macs, params)


def test_a_block_shared_by_networks_is_costed_on_each_ones_input():
    """The walk keeps each row's cost on its block, keyed by the input shape: the same Block objects in
    networks of other resolutions must still be costed afresh, and equality and JSON must not see it."""
    small = tiny(32)
    big = dataclasses.replace(small, resolution=64)  # the same Block objects, a 4x larger input
    fresh = from_json(big.to_json())  # new Block objects
    assert count(big) == count(fresh) and count(big).macs > 3 * count(small).macs
    assert count(small) == count(from_json(small.to_json()))  # walking big did not disturb small's count
    assert count(small, resolution=64) == count(fresh)
    assert from_json(small.to_json()) == small and json.loads(small.to_json()) == json.loads(tiny(32).to_json())


def test_json_round_trip_and_digest():
    spec = tiny()
    assert from_json(spec.to_json()) == spec
    assert from_json(spec.to_json(indent=None)).digest() == spec.digest()
    assert len(spec.digest()) == 64
    # the digest is of canonical JSON: key order and whitespace in the input do not change it
    data = json.loads(spec.to_json())
    shuffled = json.dumps(dict(reversed(list(data.items()))), indent=7)
    assert from_json(shuffled).digest() == spec.digest()
    assert tiny(64).digest() != spec.digest()


def test_digest_is_sha256_of_canonical_json():
    # A recorded study keys trials by digest: changing the canonical form (or an argument's name or
    # default) silently orphans them. The canonical text is typed here, not produced by our code.
    import hashlib

    spec = NetSpec(stem=(Block("conv", ConvArgs(8)),), stages=(), head=HEAD, resolution=16, num_classes=10)
    canonical = (
        '{"head":[{"args":{"activation":"relu","bias":true,"dropout":0.0,"hidden":[],"pool_size":1},'
        '"cell":"classifier"}],"in_channels":3,"neck":null,"num_classes":10,"resolution":16,"stages":[],'
        '"stem":[{"args":{"activation":"relu","bias":false,"dilation":1,"groups":1,"kernel_size":3,"norm":true,'
        '"out_channels":8,"padding":null,"stride":1},"cell":"conv"}]}'
    )
    assert spec.digest() == hashlib.sha256(canonical.encode()).hexdigest()


def test_tuples_survive_json():
    spec = NetSpec(stem=(Block("conv", ConvArgs(8, (1, 7), 1)),), stages=(), head=HEAD, resolution=16)
    back = from_json(spec.to_json())
    assert back.stem[0].args.kernel_size == (1, 7)
    assert back == spec


@pytest.mark.parametrize(
    "make,message",
    [
        (lambda: ConvArgs(8, 4), "conv kernel_size must be odd, got 4"),
        (lambda: ConvArgs(0), "conv out_channels must be in [1, 65536], got 0"),
        (lambda: ConvArgs(10**9), "conv out_channels must be in [1, 65536], got 1000000000"),
        (lambda: ConvArgs(8, activation="gelu2"), "conv activation must be one of"),
        (lambda: ConvArgs(8.5), "conv out_channels must be an integer, got 8.5"),
        (lambda: Block("conv", ConvArgs(8), repeats=0), "conv repeats must be in [1, 256], got 0"),
        (lambda: Block("nope", ConvArgs(8)), "unknown cell 'nope'; known cells:"),
        (lambda: Block("maxpool", ConvArgs(8)), "maxpool needs PoolArgs arguments, got ConvArgs"),
        (lambda: Block("classifier", ClassifierArgs(), repeats=2), "classifier is a head cell and cannot repeat"),
        (lambda: NetSpec(stem=(), stages=(), head=(), resolution=32), "exactly one of a head"),
        (lambda: NetSpec(stem=(Block("conv", ConvArgs(8, groups=2)),), stages=(), head=HEAD),
         "stem.b1 (conv): conv groups=2 must divide in_channels=3"),
        (lambda: NetSpec(stem=(Block("conv", ConvArgs(8, 3, 2, padding=0)),), stages=(), head=HEAD, resolution=2),
         "stem.b1 (conv): the feature map vanishes (2x2 in); raise the resolution"),
        (lambda: NetSpec(stem=HEAD, stages=(), head=HEAD), "stem block classifier is not a body cell"),
        (lambda: NetSpec(stem=(), stages=(), head=HEAD, resolution=0), "network resolution must be in [1, 8192], got 0"),
    ],
)
def test_spec_errors_are_one_line(make, message):
    with pytest.raises(SpecError) as err:
        make()
    assert message in str(err.value)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    "text,message",
    [
        ("{", "spec is not valid JSON"),
        ("[1]", "a spec must be a JSON object, got list"),
        ('{"stem": [], "stages": [], "head": [{"cell": "classifier"}], "depth": 3}', "unknown spec key(s) ['depth']"),
        ('{"stem": [{"cell": "conv", "args": {"out_channels": 8, "kernel": 3}}], "stages": [], "head": []}',
         "unknown argument(s) ['kernel'] for cell conv"),
        ('{"stem": [{"cell": "conv", "args": {"out_channels": "8"}}], "stages": [], "head": []}',
         "conv out_channels must be int, got '8'"),
        ('{"stem": [{"cell": "conv", "args": {"out_channels": true}}], "stages": [], "head": []}',
         "conv out_channels must be int, got True"),
        ('{"stem": [{"cell": "conv", "args": {}}], "stages": [], "head": []}', "cell conv is missing argument(s) ['out_channels']"),
        ('{"stem": [{"cell": "warp", "args": {}}], "stages": [], "head": []}', "unknown cell 'warp'"),
        ('{"stem": [{"cell": "conv", "args": {"out_channels": -8}}], "stages": [], "head": []}',
         "conv out_channels must be in [1, 65536], got -8"),
        ("[" * 100000 + "]" * 100000, "nested too deeply"),
        ('{"stem": "conv", "stages": [], "head": []}', "spec 'stem' must be a list"),
    ],
)
def test_json_errors_are_one_line(text, message):
    with pytest.raises(SpecError) as err:
        from_json(text)
    assert message in str(err.value)
    assert "\n" not in str(err.value)
