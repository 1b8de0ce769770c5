"""torchvision's state-dict names for our backbones, leaf by leaf (torchvision 0.29.1 torchvision/models/).

Each function takes our blocks (`blocks.block_infos`) and returns the torchvision name of every leaf module,
in our order, which is torchvision's registration order for every network here. A leaf's tensors keep
their own names (weight, bias, running_mean, running_var, num_batches_tracked).
"""
from __future__ import annotations

from search_spaces.weights.blocks import BlockInfo, branch_names, conv_bn, translate

RESIDUAL = (  # torchvision BasicBlock / Bottleneck (and timm's ResNet with SE)
    (r"body\.conv(\d)\.conv", r"conv\1"), (r"body\.conv(\d)\.bn", r"bn\1"), (r"body\.se\.(fc\d)", r"se.\1"),
    (r"shortcut\.conv", "downsample.0"), (r"shortcut\.bn", "downsample.1"),
)

FPN = ((r"lateral\.(\d+)\.conv", r"fpn.inner_blocks.\1.0"), (r"output\.(\d+)\.conv", r"fpn.layer_blocks.\1.0"))


def plain(blocks: list[BlockInfo], classifier: tuple[int, ...]) -> list[str]:
    """AlexNet / VGG: `features.i` numbers every conv, BN, ReLU and pool; the head is `classifier.j`."""
    out, i = [], 0
    for b in blocks:
        if b.where == "head":
            out += [f"classifier.{j}" for j in classifier]
        elif b.cell == "conv":
            out += [f"features.{i + j}" for j in range(len(b.leaves))]  # conv, then BN where there is one
            i += len(b.leaves) + 1  # and the ReLU
        else:
            i += 1
    return out


def alexnet(blocks: list[BlockInfo]) -> list[str]:
    """classifier: Dropout, Linear, ReLU, Dropout, Linear, ReLU, Linear."""
    return plain(blocks, (1, 4, 6))


def vgg(blocks: list[BlockInfo]) -> list[str]:
    """classifier: Linear, ReLU, Dropout, Linear, ReLU, Dropout, Linear."""
    return plain(blocks, (0, 3, 6))


def squeezenet(blocks: list[BlockInfo]) -> list[str]:
    """`features.i` over conv, ReLU, pools and Fire modules; the head conv is `classifier.1`."""
    out, i = [], 0
    for b in blocks:
        if b.where == "head":
            out.append("classifier.1")
        elif b.cell == "conv":
            out.append(f"features.{i}")
            i += 2
        elif b.cell == "fire":
            out += [f"features.{i}.{leaf.split('.')[0]}" for leaf in b.leaves]  # squeeze, expand1x1, expand3x3
            i += 1
        else:
            i += 1
    return out


def googlenet(blocks: list[BlockInfo]) -> list[str]:
    """conv1..conv3, inception3a..5b with branch1..branch4, fc."""
    convs, modules, out = iter(["conv1", "conv2", "conv3"]), iter("3a 3b 4a 4b 4c 4d 4e 5a 5b".split()), []
    for b in blocks:
        if b.where == "head":
            out.append("fc")
        elif b.cell == "conv":
            out += conv_bn(next(convs))
        elif b.cell == "inception_v1":
            name = next(modules)
            out += [f"inception{name}.{leaf}" for leaf in branch_names(b.leaves, first=1)]
    return out


INCEPTION_V3 = {  # torchvision inception.py: each module's BasicConv2d children in registration order
    "inception_a": "branch1x1 branch5x5_1 branch5x5_2 branch3x3dbl_1 branch3x3dbl_2 branch3x3dbl_3 branch_pool",
    "reduction_a": "branch3x3 branch3x3dbl_1 branch3x3dbl_2 branch3x3dbl_3",
    "inception_b": "branch1x1 branch7x7_1 branch7x7_2 branch7x7_3 branch7x7dbl_1 branch7x7dbl_2 branch7x7dbl_3 "
                   "branch7x7dbl_4 branch7x7dbl_5 branch_pool",
    "reduction_b": "branch3x3_1 branch3x3_2 branch7x7x3_1 branch7x7x3_2 branch7x7x3_3 branch7x7x3_4",
    "inception_v3_c": "branch1x1 branch3x3_1 branch3x3_2a branch3x3_2b branch3x3dbl_1 branch3x3dbl_2 "
                      "branch3x3dbl_3a branch3x3dbl_3b branch_pool",
}


def inception_v3(blocks: list[BlockInfo]) -> list[str]:
    """Conv2d_1a_3x3 .. Conv2d_4a_3x3, Mixed_5b .. Mixed_7c, fc (AuxLogits is not part of the spec)."""
    convs = iter("Conv2d_1a_3x3 Conv2d_2a_3x3 Conv2d_2b_3x3 Conv2d_3b_1x1 Conv2d_4a_3x3".split())
    mixed = iter("5b 5c 5d 6a 6b 6c 6d 6e 7a 7b 7c".split())
    out: list[str] = []
    for b in blocks:
        if b.where == "head":
            out.append("fc")
        elif b.cell == "conv":
            out += conv_bn(next(convs))
        elif b.cell in INCEPTION_V3:
            name = next(mixed)
            out += [f"Mixed_{name}.{part}" for branch in INCEPTION_V3[b.cell].split() for part in conv_bn(branch)]
    return out


def resnet(blocks: list[BlockInfo], prefix: str = "") -> list[str]:
    """conv1, bn1, layer{s}.{i}.(conv|bn){k} and downsample.(0|1), fc; an FPN neck's convs are
    fpn.inner_blocks.i.0 and fpn.layer_blocks.i.0 (torchvision's BackboneWithFPN: body., fpn.)."""
    out = []
    for b in blocks:
        if b.where == "stem" and b.cell == "conv":
            out += [prefix + "conv1", prefix + "bn1"]
        elif b.stage:
            out += [f"{prefix}layer{b.stage}.{b.index - 1}.{translate(leaf, RESIDUAL)}" for leaf in b.leaves]
        elif b.where == "head":
            out.append("fc")
        elif b.where == "neck":
            out += [translate(leaf, FPN) for leaf in b.leaves]
    return out


def fpn_resnet50(blocks: list[BlockInfo]) -> list[str]:
    """resnet_fpn_backbone: the ResNet under `body.`, the FPN under `fpn.`."""
    return resnet(blocks, prefix="body.")


def densenet(blocks: list[BlockInfo]) -> list[str]:
    """features.conv0/norm0, features.denseblock{s}.denselayer{l}.*, features.transition{s}.*, norm5."""
    out = []
    for b in blocks:
        if b.where == "stem" and b.cell == "conv":
            out += ["features.conv0", "features.norm0"]
        elif b.cell == "dense":
            rules = ((r"layers\.(\d+)\.(\w+)", r"\1.\2"),)
            for leaf in b.leaves:
                layer, part = translate(leaf, rules).split(".")
                out.append(f"features.denseblock{b.stage}.denselayer{int(layer) + 1}.{part}")
        elif b.cell == "dense_transition":
            out += [f"features.transition{b.stage - 1}.{leaf}" for leaf in b.leaves]  # norm, conv
        elif b.cell == "bn_act":
            out.append("features.norm5")
        elif b.where == "head":
            out.append("classifier")
    return out


def _parts(leaves: tuple[str, ...]) -> list[str]:
    """The distinct first path components of a block's leaves, in order (expand, dw, se, project)."""
    return list(dict.fromkeys(leaf.split(".")[0] for leaf in leaves))


def _inverted(b: BlockInfo, prefix: str) -> list[str]:
    """MobileNetV3 / EfficientNet's InvertedResidual / MBConv: `block.k.0|1` per conv-BN, `block.k.fc1|fc2`
    for SE, k counting the parts present."""
    index = {part: k for k, part in enumerate(_parts(b.leaves))}
    out = []
    for leaf in b.leaves:
        part, child = leaf.split(".")
        sub = child if part == "se" else {"conv": "0", "bn": "1"}[child]
        out.append(f"{prefix}.block.{index[part]}.{sub}")
    return out


def mobilenet_v2(blocks: list[BlockInfo]) -> list[str]:
    """features.0 (stem), features.i.conv.* per block (ConvBNReLU k.0|1, then the projection conv and
    BN as two indices), features.18 (head conv), classifier.1."""
    out, i = [], 0
    for b in blocks:
        if b.cell in ("conv", "conv_head"):
            out += [f"features.{i}.0", f"features.{i}.1"]
            i += 1
        elif b.cell == "mbconv":
            parts = _parts(b.leaves)
            for leaf in b.leaves:
                part, child = leaf.split(".")
                k = parts.index(part)
                out.append(f"features.{i}.conv." + (f"{k}.{'01'[child == 'bn']}" if part != "project" else
                                                     str(k + (child == "bn"))))
            i += 1
        elif b.cell == "classifier":
            out.append("classifier.1")
    return out


def mobilenet_v3(blocks: list[BlockInfo]) -> list[str]:
    """features.i.0|1 (stem, head conv), features.i.block.* per block, classifier.0 and classifier.3."""
    out, i = [], 0
    for b in blocks:
        if b.cell in ("conv", "conv_head"):
            out += [f"features.{i}.0", f"features.{i}.1"]
            i += 1
        elif b.cell == "mbconv":
            out += _inverted(b, f"features.{i}")
            i += 1
        elif b.cell == "classifier":
            out += ["classifier.0", "classifier.3"]
    return out


def efficientnet(blocks: list[BlockInfo]) -> list[str]:
    """features.0 (stem), features.{s}.{i}.block.* (stage s, block i), features.{N+1} (head conv),
    classifier.1."""
    last = max(b.stage for b in blocks) + 1
    out = []
    for b in blocks:
        if b.cell == "conv":
            out += ["features.0.0", "features.0.1"]
        elif b.cell == "mbconv":
            out += _inverted(b, f"features.{b.stage}.{b.index - 1}")
        elif b.cell == "conv_head":
            out += [f"features.{last}.0", f"features.{last}.1"]
        elif b.cell == "classifier":
            out.append("classifier.1")
    return out


SHUFFLE_V2 = (
    (r"proj\.depthwise\.conv", "branch1.0"), (r"proj\.depthwise\.bn", "branch1.1"),
    (r"proj\.pointwise\.conv", "branch1.2"), (r"proj\.pointwise\.bn", "branch1.3"),
    (r"main\.reduce\.conv", "branch2.0"), (r"main\.reduce\.bn", "branch2.1"),
    (r"main\.depthwise\.conv", "branch2.3"), (r"main\.depthwise\.bn", "branch2.4"),
    (r"main\.expand\.conv", "branch2.5"), (r"main\.expand\.bn", "branch2.6"),
)


def shufflenet_v2(blocks: list[BlockInfo]) -> list[str]:
    """conv1.0|1, stage{2..4}.{i}.branch1|branch2.*, conv5.0|1, fc."""
    out = []
    for b in blocks:
        if b.where == "stem" and b.cell == "conv":
            out += ["conv1.0", "conv1.1"]
        elif b.cell == "shuffle_v2":
            out += [f"stage{b.stage + 1}.{b.index - 1}.{translate(leaf, SHUFFLE_V2)}" for leaf in b.leaves]
        elif b.cell == "conv":
            out += ["conv5.0", "conv5.1"]
        elif b.where == "head":
            out.append("fc")
    return out
