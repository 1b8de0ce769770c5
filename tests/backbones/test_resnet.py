"""The residual family's named backbones against outside figures (typed here from the reference
implementations cited on each line, never computed by our code): exact parameters, multiply-adds exact or
within the printed rounding, exact against PyTorch's own count, a real forward pass, and JSON.

[M]: measured on the named public implementation with random weights (parameter numels; fvcore
0.1.5 conv + linear multiply-adds; torch 2.13.0+cpu, torchvision 0.28.0, timm 1.0.31, pytorchcv 0.0.74).
[S:tv]: read from the `_meta` dict (num_params, _ops) in torchvision 0.28.0 torchvision/models/<file>.py."""


from search_spaces import count
from search_spaces.backbones import get
from search_spaces.backbones.resnet import BACKBONES, resnet_body

G = 10**9
# name: (params, macs, macs_tol): conv + linear multiply-adds at 224; tolerance = half the last printed digit
REFERENCE = {
    "resnet18": (11_689_512, 1.8141 * G, 50_000),  # [M][S:tv] torchvision resnet.py
    "resnet34": (21_797_672, 3.6638 * G, 50_000),  # [M][S:tv] torchvision resnet.py
    "resnet50": (25_557_032, 4_089_184_256, 0),  # [M][S:tv] torchvision resnet.py; FlopCounterMode 8,178,368,512 / 2
    "resnet101": (44_549_160, 7.8014 * G, 50_000),  # [M][S:tv] torchvision resnet.py
    "resnet152": (60_192_808, 11.5136 * G, 50_000),  # [M][S:tv] torchvision resnet.py
    "resnet50_v1": (25_557_032, 3.8580 * G, 50_000),  # [M] torchvision resnet50 with the stride on the 1x1
    "resnext50_32x4d": (25_028_904, 4.2305 * G, 50_000),  # [M][S:tv] torchvision resnet.py
    "seresnet50": (28_088_024, 4.0917 * G, 50_000),  # [M] timm seresnet50 (stride on the 3x3)
    "legacy_seresnet50": (28_088_024, 3.8605 * G, 50_000),  # [M] timm legacy_seresnet50
    "res2net50_26w_4s": (25_699_120, 4.2552 * G, 50_000),  # [M] timm res2net50_26w_4s
    "res2net101_26w_4s": (45_206_688, 8.0670 * G, 50_000),  # [M] timm res2net101_26w_4s
    "regnetx_600mf": (6_196_040, 0.6009 * G, 50_000),  # [M] timm regnetx_006
    "regnety_600mf": (6_055_160, 0.6012 * G, 50_000),  # [M] timm regnety_006
    "detnet59": (18_372_648, 5.0002 * G, 50_000),  # [M] DetNet_pytorch transcription, stride on 3x3
    "detnet59_v1": (18_372_648, 4.8460 * G, 50_000),  # [M] same, stride on the 1x1 (paper's 4.8 G)
    "hetconv_resnet50": (18_012_200, 2.8561 * G, 50_000),  # [M] tv resnet50, each bottleneck 3x3 as HetConv P=4
    # computed by hand from the authors' module (mmcv cnn/bricks/generalized_attention.py at commit 19a02415,
    # num_heads=8, attention_type='0010', kv_stride=2, spatial_range=-1) after conv2 of stages 3 and 4 (mmdetection
    # configs/empirical_attention/faster-rcnn_r50-attn0010_fpn_1x_coco.py): see GA_BLOCKS below
    "resnet50_ga_0010": (29_102_129, 4_154_264_576, 0),
}
# resnet50_ga_0010, per module on C input channels with L key positions (the map after conv2 subsampled by 2):
# parameters key_conv C*C + value_conv C*C + proj_conv C*C + C (bias) + appr_bias C + gamma 1; multiply-adds
# key_conv C*C*L + value_conv C*C*L + appr_bias . key C*L + attention . value C*L + proj_conv C*C (on the 1x1
# map of the '0010' shortcut in forward: `h = 1; w = 1`). At 224: stage 3 is 14x14 (L = 7*7), stage 4 7x7 (L = 4*4).
GA_BLOCKS = {256: (6, 7 * 7), 512: (3, 4 * 4)}  # C: (blocks, L)
NAMES = [row.name for row in BACKBONES]


def test_paper_stride_placement_explains_the_paper_figures():
    # ResNet-50: paper 3.8e9 (He et al. 2016, Table 1; recalled, not checked against the PDF) vs torchvision
    # 4.089e9 [M]; DetNet-59: paper 4.8e9 (Li et al. 2018, abstract: "DetNet (4.8G FLOPs) backbone") vs 5.000e9 [M]
    for v1, v15, paper in (("resnet50_v1", "resnet50", 3.8 * G), ("detnet59_v1", "detnet59", 4.8 * G)):
        assert abs(count(get(v1)).macs - paper) < 0.06 * G < 0.2 * G < abs(count(get(v15)).macs - paper)
    assert count(get("resnet50_v1")).params == count(get("resnet50")).params


def test_resnet_body_is_resnet50_without_its_head():
    stem, stages = resnet_body((3, 4, 6, 3))
    spec = get("resnet50")
    assert (stem, stages) == (spec.stem, spec.stages)
    assert [s.blocks[0].args.out_channels for s in stages] == [256, 512, 1024, 2048]


def test_multipliers_keep_each_backbone_and_regnet_rows():
    from search_spaces.scale import multiply

    for name in NAMES:
        assert multiply(get(name)) == get(name), name
    deeper = multiply(get("regnety_600mf"), depth=2.0)  # the first block and its copies stay one group
    assert [b.repeats for b in deeper.stages[3].blocks] == [1, 7]
    assert deeper.stages[3].blocks[1].args.se_channels == 152  # timm: round(608 * 0.25)


def test_generalized_attention_figures_are_resnet50_plus_the_authors_module():
    params = sum(blocks * (3 * c * c + 2 * c + 1) for c, (blocks, _) in GA_BLOCKS.items())
    macs = sum(blocks * (2 * c * c * keys + 2 * c * keys + c * c) for c, (blocks, keys) in GA_BLOCKS.items())
    assert (params, macs) == (3_545_097, 65_080_320)
    assert REFERENCE["resnet50_ga_0010"][:2] == (REFERENCE["resnet50"][0] + params, REFERENCE["resnet50"][1] + macs)
    spec = get("resnet50_ga_0010")
    assert [b.args.generalized_attention is not None for s in spec.stages for b in s.blocks] == [
        False, False, True, True]
