"""Why the classic space's plain stacks miss under the proxy: depth without shortcuts, not the recipe.

Claim tested (issue "Every proposed network trains", classic at 1G: 18 of 20): the two default draws that
stayed near chance in experiments/proxy_reliability (both plain stacks) fail because they are deeper plain
stacks than any named one (VGG-19 has 16 convs), and no simple change of the recipe rescues them: they are
trained again with the proxy as it is, at a fifth and at four times its learning rate, and for 4 epochs
instead of 2. Each row also gives the number of convs in a row (no shortcut in a plain stack), the side it
trains at (`nas.training.evaluate.adapt`: the smallest side its pools allow, at least the proxy side) and
the feature map before the head.

Reads experiments/proxy_reliability/default-default/classic.json (its plain draws), writes classic_plain.md.
Run: .venv/bin/python experiments/classic_plain.py   (about 6 minutes on one core)
"""
from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from experiments.common import cpu_name, log  # noqa: E402
from nas.search.trial import proxy_side  # noqa: E402
from nas.training.data import load  # noqa: E402
from nas.training.evaluate import adapt, evaluate  # noqa: E402
from nas.training.train import PROXY  # noqa: E402
from search_spaces import spaces  # noqa: E402
from search_spaces.counting import stage_shapes  # noqa: E402

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "proxy_reliability" / "default-default" / "classic.json"
RECIPES = {"proxy": {}, "lr 0.01": {"lr": 0.01}, "lr 0.2": {"lr": 0.2}, "4 epochs": {"epochs": 4}}


def main() -> None:
    torch.set_num_threads(PROXY.threads)
    space, data = spaces.get("classic"), load()
    rows = []
    for row in json.loads(SOURCE.read_text())["rows"]:
        if row["params"]["kind"] != "plain":
            continue
        spec = space.decode(row["params"])
        resized = data.resized(proxy_side(data.resolution, spec.resolution, 224))
        built = adapt(spec, resized)
        convs = sum(b.repeats for stage in spec.stages for b in stage.blocks if b.cell == "conv")
        results = {}
        for name, change in RECIPES.items():
            m = evaluate(spec, dataclasses.replace(PROXY, **change), resized)
            results[name] = "failed" if m.failure else f"{m.accuracy:.3f}"
            log(f"draw {row['index']} {name}: {results[name]} {m.failure or ''}")
        last = stage_shapes(built)[-1]
        rows.append(f"| {row['index']} | {row['macs'] / 1e6:.0f}M | {convs} | {resized.resolution} | "
                    f"{built.resolution} | {last.h}x{last.w} | " + " | ".join(results.values()) + " |")
    text = "\n".join([
        "# Plain stacks of the classic space under the proxy", "",
        "Command: `.venv/bin/python experiments/classic_plain.py`", "",
        f"Machine: {cpu_name()}, one torch thread, torch {torch.__version__}. Validation accuracy (chance 0.10; "
        "ok is 0.30). The draws are those of `proxy_reliability.py --space classic` (seed 0) that are plain stacks.",
        "", "| draw | MACs | convs in a row | proxy side | side trained | map before the head | "
        + " | ".join(RECIPES) + " |", "|---" * (6 + len(RECIPES)) + "|", *rows, ""])
    (HERE / "classic_plain.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
