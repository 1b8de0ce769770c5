"""Budgets: '300M', '300MFLOPs', '0.3G', '4.1GFLOPs' -> multiply-adds (FLOPs here mean multiply-adds).

The unit may be spelled FLOPs or MACs, singular or plural, in any case, with or without a space before it
('300 MFLOP', '300M MACs'): they all mean multiply-adds here.
"""
from __future__ import annotations

import re

from search_spaces.errors import BudgetError

_UNITS = {"K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}
_PATTERN = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*([KMGT])\s*(?:FLOPS?|MACS?)?\s*$", re.IGNORECASE)


def parse_budget(text: str) -> int:
    """Multiply-adds from a budget string; a one-line BudgetError for anything else."""
    match = _PATTERN.match(str(text))
    if not match:
        raise BudgetError(
            f"budget {text!r} is not understood; give a positive number with a unit, e.g. 300M, 300MFLOPs, 0.3G, 4.1GFLOPs"
        )
    value = float(match.group(1)) * _UNITS[match.group(2).upper()]
    if value < 1:
        raise BudgetError(f"budget {text!r} must be positive, e.g. 300MFLOPs")
    return int(round(value))


def format_flops(macs: int) -> str:
    """A short human figure: 4.09G, 300.8M, 56.5M."""
    for unit, scale in (("G", 10**9), ("M", 10**6), ("K", 10**3)):
        if macs >= scale:
            return f"{macs / scale:.{2 if unit == 'G' else 1}f}{unit}"
    return str(macs)


def format_params(params: int) -> str:
    """A short human figure: 25.56M, 840.2K."""
    if params >= 10**6:
        return f"{params / 10**6:.2f}M"
    if params >= 10**3:
        return f"{params / 10**3:.1f}K"
    return str(params)
