"""The mobile backbones against their reference figures (typed here from the reference implementations cited
on each line).

[M]: measured on the named public implementation with random weights (parameter numels; fvcore
0.1.5 conv + linear multiply-adds; torch 2.13.0+cpu, torchvision 0.28.0, timm 1.0.31, pytorchcv 0.0.74).
[S:tv]: read from the `_meta` dict (num_params, _ops) in torchvision 0.28.0 torchvision/models/<file>.py.
The EfficientNet rows are measured at the tensorflow/tpu resolutions (efficientnet_builder.py efficientnet_params)."""


from search_spaces.backbones.mobile import antnet
from search_spaces.counting import count

G4 = 50_000  # a GMACs figure printed to 4 decimals

# name: (resolution, params exact, conv+fc MACs, tolerance)
REFERENCE = {
    "mobilenet_v1": (224, 4_231_976, 568_700_000, G4),  # [M] timm mobilenetv1_100, 0.5687 G
    "mobilenet_v2": (224, 3_504_872, 300_800_000, G4),  # [M][S:tv] torchvision mobilenetv2.py, 0.3008 G
    "mobilenet_v3_large": (224, 5_483_032, 216_600_000, G4),  # [M][S:tv] torchvision mobilenetv3.py, 0.2166 G
    "mobilenet_v3_small": (224, 2_542_856, 56_510_400, 0),  # [M][S:tv] mobilenetv3.py, fvcore 56,510,400 exact
    "mnasnet_a1": (224, 3_887_038, 311_600_000, G4),  # [M] timm semnasnet_100, 0.3116 G
    "proxylessnas_mobile": (224, 4_080_512, 320_400_000, G4),  # [M] pytorchcv, 0.3204 G (official log 320.4 M)
    "antnet": (224, 3_812_039, 313_900_000, G4),  # [M] dhananjaisharma10/ANTNet g=1, 0.3139 G
    "efficientnet_b0": (224, 5_288_548, 385_800_000, G4),  # [M][S:tv] efficientnet.py, 0.3858 G
    "efficientnet_b1": (240, 7_794_184, 686_800_000, G4),  # [M][S:tv] efficientnet.py, 0.6868 G
    "efficientnet_b2": (260, 9_109_994, 993_600_000, G4),  # [M][S:tv] efficientnet.py, 0.9936 G at TF's 260
    "efficientnet_b3": (300, 12_233_232, 1_827_100_000, G4),  # [M][S:tv] efficientnet.py, 1.8271 G
    "efficientnet_b4": (380, 19_341_616, 4_393_800_000, G4),  # [M][S:tv] efficientnet.py, 4.3938 G
    "efficientnet_b5": (456, 30_389_784, 10_266_400_000, G4),  # [M][S:tv] efficientnet.py, 10.2664 G
    "efficientnet_b6": (528, 43_040_704, 19_067_600_000, G4),  # [M][S:tv] efficientnet.py, 19.0676 G
    "efficientnet_b7": (600, 66_347_960, 37_745_884_192, 0),  # [M][S:tv] efficientnet.py, fvcore exact
}
NAMES = list(REFERENCE)


def test_antnet_g2_matches_the_reimplementation():
    # dhananjaisharma10/ANTNet reimplementation g=2: 3,330,695 params [M], 0.2581 G [M, approximate]
    cost = count(antnet(groups=2))
    assert cost.params == 3_330_695
    assert abs(cost.macs - 258_100_000) <= G4


