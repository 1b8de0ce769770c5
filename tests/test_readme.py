"""The README's Python example runs as written (the search itself is only resolved, not run: it trains)."""
import re
from pathlib import Path

README = Path(__file__).parent.parent / "README.md"


def test_readme_python_example_runs():
    block = README.read_text().split("```python\n", 1)[1].split("```", 1)[0]
    namespace: dict = {}
    searched = False
    for line in block.splitlines():
        call = re.match(r"\s*result = ([\w.]+)\(", line)
        if call:  # the search: its function must resolve from what the example imported
            assert callable(eval(call.group(1), namespace)), line
            searched = True
        elif not line.startswith("result."):
            exec(line, namespace)
    ns = namespace
    assert searched
    # what the example's comments say: torchvision resnet50's 4,089,184,256 multiply-adds (fvcore 0.1.5 conv +
    # linear count on torchvision 0.28.0 resnet50) and 25,557,032 parameters (torchvision/models/resnet.py
    # `_meta` num_params), B3 a point of mobile, a sample within its budget, phi 2 at 224 * 1.15^2 px
    assert (ns["count"](ns["spec"]).macs, ns["count"](ns["spec"]).params) == (4_089_184_256, 25_557_032)
    assert ns["space"].contains(ns["backbones"].get("efficientnet_b3"))
    assert ns["count"](ns["candidate"]).macs <= 300_000_000
    assert ns["b3_like"].resolution == 296  # 224 * 1.15^2 = 296.2, made a multiple of 8
