"""`nas weights`: reference checkpoints (torchvision, timm) into our modules and back. Parses and prints;
the mapping and its checks live in `search_spaces.weights`."""
from __future__ import annotations

import argparse
from typing import Any

from search_spaces.weights import REFERENCES, export, load, mapping, reference
from search_spaces.weights.files import read_state_dict, write_state_dict


def _list(args: argparse.Namespace) -> None:
    for name, ref in REFERENCES.items():
        print(f"{name:<24}{ref.source}")


def _load(args: argparse.Namespace) -> None:
    net = load(args.name, read_state_dict(args.checkpoint))
    params = sum(p.numel() for p in net.parameters())
    print(f"{args.checkpoint}: {len(mapping(args.name))} tensors of {reference(args.name).source} loaded into "
          f"{args.name} ({params:,} params)")
    if args.output:
        print(f"wrote {write_state_dict(net.state_dict(), args.output)} (our names)")


def _export(args: argparse.Namespace) -> None:
    reference(args.name)  # a backbone without a reference: its one-line error before the file is read
    state = export(args.name, read_state_dict(args.checkpoint))
    print(f"wrote {write_state_dict(state, args.output)} ({reference(args.name).source} names)")


def add_commands(sub: Any) -> None:
    """The `weights` subcommand and its actions, on the top-level subparsers."""
    p = sub.add_parser("weights", help="load torchvision/timm checkpoints into our backbones, export ours back")
    actions = p.add_subparsers(dest="action", required=True)
    a = actions.add_parser("list", help="the backbones with a reference definition, and which")
    a.set_defaults(run=_list)
    a = actions.add_parser("load", help="check a reference checkpoint and load it into our module")
    a.add_argument("name", help="backbone name (see `nas weights list`)")
    a.add_argument("checkpoint", help="torchvision or timm state dict file (.pth, .pt, .bin, .safetensors)")
    a.add_argument("-o", "--output", help="also write the weights under our names to this file")
    a.set_defaults(run=_load)
    a = actions.add_parser("export", help="write our weights under the reference's names")
    a.add_argument("name", help="backbone name (see `nas weights list`)")
    a.add_argument("checkpoint", help="a state dict of our module (our names)")
    a.add_argument("-o", "--output", required=True, help="the reference-named state dict to write")
    a.set_defaults(run=_export)
