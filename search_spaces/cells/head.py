"""Classifier heads; the network passes the class count, so a spec's head does not repeat it.

`classifier`: adaptive average pool to `pool_size`, flatten, hidden linear layers (each followed by the
activation and dropout), dropout, then the final linear layer. Global pooling plus one linear layer is the
ResNet/EfficientNet head; `pool_size=7, hidden=(4096, 4096)` is VGG's; `hidden=(1280,)` with hardswish is
MobileNetV3's. `conv_classifier`: SqueezeNet's dropout, 1x1 conv with bias to the classes, ReLU (optional),
global pool.
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from torch import nn

from search_spaces.cells.base import Cell, optional_field
from search_spaces.cells.conv import ACTIVATIONS, activation
from search_spaces.cost import Cost, Shape, Tally, conv2d
from search_spaces.errors import check_choice, check_float, check_int


@dataclass(frozen=True)
class ClassifierArgs:
    """Pool, hidden linear layers, dropout and the final linear layer."""

    pool_size: int = 1  # adaptive average pool output side; 1 is global pooling
    hidden: tuple[int, ...] = ()  # widths of linear layers before the final one
    activation: str = "relu"  # after each hidden layer
    dropout: float = 0.0
    bias: bool = True  # of the final linear layer (Megvii's ShuffleNet v1 has none)

    def __post_init__(self) -> None:
        check_int("classifier", "pool_size", self.pool_size, 1, 16)
        for width in self.hidden:
            check_int("classifier", "hidden width", width)
        check_choice("classifier", "activation", self.activation, ACTIVATIONS)
        check_float("classifier", "dropout", self.dropout, 0.0, 0.99)


def _classifier_build(a: ClassifierArgs, in_channels: int, num_classes: int) -> nn.Module:
    layers: OrderedDict[str, nn.Module] = OrderedDict(pool=nn.AdaptiveAvgPool2d(a.pool_size), flatten=nn.Flatten(1))
    features = in_channels * a.pool_size * a.pool_size
    for i, width in enumerate(a.hidden, 1):
        layers[f"fc{i}"] = nn.Linear(features, width)
        layers[f"act{i}"] = activation(a.activation)
        if a.dropout:  # no Dropout(0.0) module: the references have none
            layers[f"drop{i}"] = nn.Dropout(a.dropout)
        features = width
    if not a.hidden and a.dropout:
        layers["drop"] = nn.Dropout(a.dropout)
    layers["fc"] = nn.Linear(features, num_classes, bias=a.bias)
    return nn.Sequential(layers)


def _classifier_cost(a: ClassifierArgs, shape: Shape, num_classes: int) -> tuple[Cost, Shape]:
    tally = Tally(Shape(shape.c, a.pool_size, a.pool_size))  # after the adaptive pool
    for width in a.hidden:
        tally.linear(width)
    tally.linear(num_classes, a.bias)
    return tally.result()


@dataclass(frozen=True)
class ConvClassifierArgs:
    """SqueezeNet's head: dropout, 1x1 conv (with bias) to the classes, ReLU (`activation` "none": the logits
    as the conv gives them), global average pool."""

    dropout: float = 0.5
    activation: str = optional_field("relu")

    def __post_init__(self) -> None:
        check_float("conv_classifier", "dropout", self.dropout, 0.0, 0.99)
        check_choice("conv_classifier", "activation", self.activation, ("relu", "none"))


def _conv_classifier_build(a: ConvClassifierArgs, in_channels: int, num_classes: int) -> nn.Module:
    conv = nn.Conv2d(in_channels, num_classes, 1)
    conv.classifier = True  # initialised as the classifier it is (`network.init_weights`)
    layers = OrderedDict(drop=nn.Dropout(a.dropout), conv=conv)
    if a.activation == "relu":
        layers["act"] = nn.ReLU(inplace=True)
    return nn.Sequential(OrderedDict(layers, pool=nn.AdaptiveAvgPool2d(1), flatten=nn.Flatten(1)))


def _conv_classifier_cost(a: ConvClassifierArgs, shape: Shape, num_classes: int) -> tuple[Cost, Shape]:
    cost, _ = conv2d(shape, num_classes, 1, bias=True)
    return cost, Shape(num_classes, 1, 1)


CELLS = (
    Cell("classifier", ClassifierArgs, _classifier_build, _classifier_cost,
         "pool, optional hidden linear layers, dropout, linear to the classes", role="head"),
    Cell("conv_classifier", ConvClassifierArgs, _conv_classifier_build, _conv_classifier_cost,
         "SqueezeNet head: dropout, 1x1 conv to the classes, ReLU (or none), global pool", role="head"),
)
