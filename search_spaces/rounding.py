"""The toolkit's one channel-rounding rule, in a module that imports nothing of the package, so that cells,
spaces and the width transform (`search_spaces.scale`) can all use it without importing each other."""
from __future__ import annotations


def make_divisible(value: float, divisor: int = 8, min_value: int | None = None) -> int:
    """`value` rounded to the nearest multiple of `divisor`, at least `min_value` (default: divisor) and
    never below 90 % of `value` (TF's and torchvision's `_make_divisible`)."""
    if type(divisor) is not int or not 1 <= divisor <= 1024:
        raise ValueError(f"make_divisible needs a divisor in [1, 1024], got {divisor!r}")
    floor = divisor if min_value is None else min_value
    rounded = max(floor, int(value + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * value:
        rounded += divisor
    return rounded


def scale_channels(value: int, width: float) -> int:
    """A channel count under the width multiplier: unchanged at width 1.0, else make_divisible(value * w)."""
    return value if width == 1.0 else make_divisible(value * width)
