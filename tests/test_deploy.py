"""From a search to a trained, deployable network: the README's commands ('From a search to a trained
network') run as written on the default data (the MNIST subset), with options appended that keep them cheap
(the tiny `plain` space, two trials, one epoch), and the ONNX file they end with, alone, classifies the test
images as the trained module does."""
import re
import shlex
from pathlib import Path

import numpy as np
import pytest
import torch

from nas.cli import main

README = Path(__file__).resolve().parents[1] / "README.md"
CHEAP = {"search": ["--space", "plain", "--budget", "20M", "--trials", "2", "--epochs", "1", "--strategy", "random",
                    "--scheduler", "fifo", "--max-concurrent", "2"],
         "train": ["--epochs", "1"], "export": []}


def readme_commands() -> list[list[str]]:
    """The commands of the README's section, without their comments."""
    section = README.read_text().split("## From a search to a trained network\n", 1)[1]
    block = section.strip("\n").split("\n\n", 1)[0]
    return [shlex.split(line.split("  #", 1)[0])[1:] for line in block.splitlines()]


def test_the_readme_goes_from_a_search_to_a_trained_onnx_file(tmp_path, ray_local, plain_space, capsys,
                                                                monkeypatch):
    pytest.importorskip("onnx")
    import onnx
    from onnx.reference import ReferenceEvaluator

    from nas.training.checkpoint import read_checkpoint
    from nas.training.data import load

    commands = readme_commands()
    assert [c[0] for c in commands] == ["search", "train", "train", "export"]
    monkeypatch.chdir(tmp_path)  # the commands write under runs/
    outputs = []
    for argv in commands:
        if "runs/search#DIGEST" in argv:  # the front table's first digest, as a user copies it
            digest = re.search(r"^\s+1\s+\S+\s+\S+\s+\S+\s+\S+\s+([0-9a-f]{12})\s", outputs[0], re.M).group(1)
            argv = [a.replace("DIGEST", digest) for a in argv]
        assert main(argv + CHEAP[argv[0]]) == 0, argv
        outputs.append(capsys.readouterr().out)

    search, trained, resumed, exported = outputs
    name = f"runs/search#{digest}"
    assert trained.splitlines()[0] == "data: mnist, the search's (--data to change)"
    assert trained.splitlines()[1].startswith(f"{name}  trained 1 epoch(s) at 32x32 on cpu")
    assert re.search(r"accuracy +\d+\.\d\d%  validation, \d+\.\d\d% test", trained)
    assert "checkpoint   runs/train/checkpoint.pt; nas export runs/train --format onnx" in trained
    assert "(resumed after epoch 1)" in resumed  # a finished run: its result again, nothing trained over
    found = read_checkpoint("runs/train")
    assert (found.spec.in_channels, found.spec.num_classes) == (1, 10)  # from the data: grey, ten digits
    lines = exported.splitlines()
    assert lines[0].startswith(f"wrote runs/train/model.onnx: {name}, trained 1 of 1 epochs on mnist: validation")
    assert lines[1] == "  input 'images' N x 1 x 32 x 32 (N free), output 'logits' N x 10"

    # the ONNX file alone, on test images scaled to 0..1, computes what the trained module computes
    data = load(found.data)
    images = data.test_x[:200].float() / 255
    logits = ReferenceEvaluator(onnx.load("runs/train/model.onnx")).run(None, {"images": images.numpy()})[0]
    mean, std = (torch.tensor(v).view(1, -1, 1, 1) for v in (data.mean, data.std))
    with torch.inference_mode():
        expected = found.model()((images - mean) / std).numpy()
    assert np.abs(logits - expected).max() <= 1e-4 * max(1.0, np.abs(expected).max())
    assert (logits.argmax(1) == data.test_y[:200].numpy()).mean() > 0.2  # trained: well above chance (0.1)
