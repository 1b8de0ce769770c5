"""timm's state-dict names for our backbones, leaf by leaf (timm 1.0.31 timm/models/).

As in `tv_names`: each function returns the timm name of every leaf module of our blocks, in our order.
That is timm's registration order everywhere but Res2Net, whose blocks register all split convs before
all split BNs (convs.0..2, bns.0..2) where ours interleave them; names, not order, pair the tensors.
"""
from __future__ import annotations

from search_spaces.weights.blocks import BlockInfo, branch_names, conv_bn, translate
from search_spaces.weights.tv_names import RESIDUAL

INCEPTION_V4_C = ("branch0 branch1_0 branch1_1a branch1_1b branch2_0 branch2_1 branch2_2 branch2_3a branch2_3b "
                  "branch3.1")  # timm inception_v4.py InceptionC, in registration order


def inception_v4(blocks: list[BlockInfo]) -> list[str]:
    """features.0..21 (one per stem conv and module), each with its branches; last_linear."""
    out, i = [], 0
    for b in blocks:
        if b.where == "head":
            out.append("last_linear")
            continue
        if b.cell == "conv":
            out += conv_bn(f"features.{i}")
        elif b.cell == "inception_v4_stem_pool":  # Mixed3a / Mixed5a: a pool beside (or after) one conv
            out += conv_bn(f"features.{i}.conv")
        elif b.cell == "inception_v4_c":
            out += [f"features.{i}.{p}" for branch in INCEPTION_V4_C.split() for p in conv_bn(branch)]
        else:
            out += [f"features.{i}.{leaf}" for leaf in branch_names(b.leaves)]
        i += 1
    return out


def inception_resnet_v2(blocks: list[BlockInfo]) -> list[str]:
    """conv2d_1a .. conv2d_4a, mixed_5b, repeat.*, mixed_6a, repeat_1.*, mixed_7a, repeat_2.*, block8,
    conv2d_7b, classif. The residual blocks' branches sit under our `branches.`, their 1x1 is `conv2d`."""
    convs = iter("conv2d_1a conv2d_2a conv2d_2b conv2d_3b conv2d_4a conv2d_7b".split())
    mixed = iter(["mixed_5b", "mixed_6a", "mixed_7a"])
    residual = [b for b in blocks if b.cell.startswith("inception_resnet_") and "reduction" not in b.cell]
    names = {id(b): f"{r}.{k}" for r, group in (("repeat", [b for b in residual if b.stage == 2]),
                                                  ("repeat_1", [b for b in residual if b.stage == 3]),
                                                  ("repeat_2", [b for b in residual if b.stage == 4][:-1]))
             for k, b in enumerate(group)}
    out: list[str] = []
    for b in blocks:
        if b.where == "head":
            out.append("classif")
        elif b.cell == "conv":
            out += conv_bn(next(convs))
        elif id(b) in names or b is residual[-1]:
            name = names.get(id(b), "block8")
            inner = tuple(leaf[len("branches."):] for leaf in b.leaves if leaf.startswith("branches."))
            out += [f"{name}.{leaf}" for leaf in branch_names(inner)] + [f"{name}.conv2d"]
        elif b.leaves:
            name = next(mixed)
            out += [f"{name}.{leaf}" for leaf in branch_names(b.leaves)]
    return out


def _resnet_like(blocks: list[BlockInfo], stem: list[str], block_rules: tuple, fc: str,
                 prefix: str = "layer{stage}.{index}") -> list[str]:
    """A ResNet-shaped network: stem conv names, `prefix` per block with its leaf rules, the fc name."""
    out = []
    for b in blocks:
        if b.where == "stem" and b.cell == "conv":
            out += stem
        elif b.stage:
            head = prefix.format(stage=b.stage, index=b.index - 1, index1=b.index)
            out += [f"{head}.{translate(leaf, block_rules)}" for leaf in b.leaves]
        elif b.where == "head":
            out.append(fc)
    return out


def seresnet(blocks: list[BlockInfo]) -> list[str]:
    """timm resnet.py with SE: torchvision's names plus se.fc1, se.fc2 after bn3."""
    return _resnet_like(blocks, ["conv1", "bn1"], RESIDUAL, "fc")


def legacy_seresnet(blocks: list[BlockInfo]) -> list[str]:
    """timm senet.py: layer0.conv1/bn1, layer{s}.{i}.*, se_module.fc1/fc2, last_linear."""
    rules = ((r"body\.se\.(fc\d)", r"se_module.\1"),) + RESIDUAL
    return _resnet_like(blocks, ["layer0.conv1", "layer0.bn1"], rules, "last_linear")


RES2NET = (
    (r"body\.splits\.convs\.(\d+)\.conv", r"convs.\1"), (r"body\.splits\.convs\.(\d+)\.bn", r"bns.\1"),
) + RESIDUAL


def res2net(blocks: list[BlockInfo]) -> list[str]:
    """timm res2net.py Bottle2neck: conv1, bn1, convs.k, bns.k, conv3, bn3, downsample."""
    return _resnet_like(blocks, ["conv1", "bn1"], RES2NET, "fc")


REGNET = (
    (r"body\.conv(\d)\.(conv|bn)", r"conv\1.\2"), (r"body\.se\.(fc\d)", r"se.\1"),
    (r"shortcut\.(conv|bn)", r"downsample.\1"),
)


def regnet(blocks: list[BlockInfo]) -> list[str]:
    """timm regnet.py: stem.conv/bn, s{s}.b{i}.conv1..conv3 (.conv/.bn), se.fc1/fc2, downsample, head.fc."""
    return _resnet_like(blocks, ["stem.conv", "stem.bn"], REGNET, "head.fc", prefix="s{stage}.b{index1}")


DS = ((r"dw\.conv", "conv_dw"), (r"dw\.bn", "bn1"), (r"(?:pw|project)\.conv", "conv_pw"),
      (r"(?:pw|project)\.bn", "bn2"), (r"se\.fc1", "se.conv_reduce"), (r"se\.fc2", "se.conv_expand"))
IR = ((r"expand\.conv", "conv_pw"), (r"expand\.bn", "bn1"), (r"dw\.conv", "conv_dw"), (r"dw\.bn", "bn2"),
      (r"se\.fc1", "se.conv_reduce"), (r"se\.fc2", "se.conv_expand"), (r"project\.conv", "conv_pwl"),
      (r"project\.bn", "bn3"))


def efficientnet_family(blocks: list[BlockInfo]) -> list[str]:
    """timm _efficientnet_blocks.py (mobilenetv1_100, semnasnet_100): conv_stem, bn1, blocks.{s}.{i}.*
    (DepthwiseSeparableConv: conv_dw, bn1, conv_pw, bn2; InvertedResidual: conv_pw, bn1, conv_dw, bn2,
    se.conv_reduce/conv_expand, conv_pwl, bn3), conv_head, bn2, classifier."""
    out = []
    for b in blocks:
        if b.where == "stem":
            out += ["conv_stem", "bn1"]
        elif b.stage:
            rules = IR if any(leaf.startswith("expand.") for leaf in b.leaves) else DS
            out += [f"blocks.{b.stage - 1}.{b.index - 1}.{translate(leaf, rules)}" for leaf in b.leaves]
        elif b.cell == "conv_head":
            out += ["conv_head", "bn2"]
        elif b.cell == "classifier":
            out.append("classifier")
    return out
