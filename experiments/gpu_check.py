"""GPU check: the first run of this project on a GPU, in one script, under ten minutes on one GPU.

Installs nothing (run it with the environment `install.sh` made, which keeps the machine's CUDA torch).
Three steps, each under its own time limit, whose figures go to experiments/gpu_check.md:
1. the CUDA tests (`pytest -m cuda tests/test_cuda.py tests/test_stream.py`: device choice, precision by
   capability, full-precision evaluation, memory given back after an out-of-memory trial, a search of
   fractional GPU trials, an image folder streamed to the GPU);
2. mobilenet_v2 and resnet50 trained by the proxy trainer (`nas.training.evaluate.evaluate`: channels_last,
   the precision `nas.training.device.precision` chooses) on synthetic ImageNet-shaped data (224 px, 1,000
   classes, held on the GPU): a warm-up epoch (cuDNN's algorithm choice, the allocator), then one measured
   epoch; images/s over its training steps, and MFU;
3. a 4-trial `nas search --gpus-per-trial 0.25` (four trials share the GPU) on the default data, its wall
   time, and the device each trial recorded.

MFU (model FLOPs utilisation) = achieved FLOP/s / the GPU's peak. Achieved: 2 FLOPs per multiply-add x the
network's analytic multiply-adds per image (`search_spaces.count`, conv and linear layers: what the README
calls FLOPs) x 3 (the backward pass costs twice the forward) x images/s. Peak: NVIDIA's datasheet figure
for the precision the trainer uses there, dense (no 2:4 sparsity): bf16 tensor cores from compute
capability 8.0, fp32 before, from the table PEAK_TFLOPS by device name (first match); `--peak-tflops`
overrides it, and an unlisted GPU gets no MFU rather than a guess.

Run: .venv/bin/python experiments/gpu_check.py  (writes experiments/gpu_check.md)
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from experiments.common import cpu_name, log  # noqa: E402
from nas.training.data import DataSource, load  # noqa: E402
from nas.training.device import capability, precision  # noqa: E402
from nas.training.evaluate import adapt, evaluate  # noqa: E402
from nas.training.train import TrainConfig  # noqa: E402
from search_spaces import backbones, count  # noqa: E402

# (name pattern, dense bf16 tensor TFLOPS, fp32 TFLOPS) from NVIDIA's datasheets; the more specific first.
# bf16 is None where the GPU has none (before compute capability 8.0), fp32 None where it is not used.
PEAK_TFLOPS = [
    ("H100 PCIe", 756.0, None), ("H100 NVL", 835.0, None), ("H200 NVL", 835.0, None),
    ("H100", 989.0, None), ("H200", 989.0, None), ("B200", 2250.0, None),
    ("A100", 312.0, None), ("L40S", 362.0, None), ("L40", 181.0, None), ("L4", 121.0, None),
    ("A10G", None, None), ("A10", 125.0, None), ("RTX A6000", 154.8, None), ("RTX 4090", 165.2, None),
    ("RTX 3090", 71.0, None), ("V100-SXM", None, 15.7), ("V100", None, 14.0), ("T4", None, 8.1),
    ("P100", None, 9.3),
]
NETWORKS = ("mobilenet_v2", "resnet50")
SIDE, CLASSES, IMAGES, BATCH = 224, 1000, 5120, 128  # synthetic ImageNet-shaped data; 40 steps an epoch
LIMITS = {"tests": 200, "train": 150, "search": 200}  # seconds per step: 550 in all, under ten minutes


def peak(name: str, dtype: torch.dtype, given: float | None) -> tuple[float | None, str]:
    """The peak TFLOPS of `name` for `dtype`, and where it comes from."""
    if given:
        return given, "--peak-tflops"
    for pattern, bf16, fp32 in PEAK_TFLOPS:
        if pattern in name:
            value, kind = (bf16, "bf16 dense") if dtype == torch.bfloat16 else (fp32, "fp32")
            if value is None:
                return None, f"PEAK_TFLOPS has no {kind} figure for {pattern}: no MFU (give --peak-tflops)"
            return value, f"{value:g} TFLOPS, NVIDIA's datasheet figure for {pattern}, {kind}"
    return None, f"{name} is not in PEAK_TFLOPS: no MFU (give --peak-tflops)"


def run_tests() -> dict:
    """The CUDA tests in a child pytest; its summary line and, when something failed, its tail."""
    start = time.perf_counter()
    try:
        files = ["tests/test_cuda.py", "tests/test_stream.py"]
        done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-m", "cuda", *files], cwd=ROOT,
                              capture_output=True, text=True, timeout=LIMITS["tests"], check=False)
        lines = (done.stdout + done.stderr).strip().splitlines()
        result = {"ok": done.returncode == 0, "summary": lines[-1] if lines else "(no output)",
                  "tail": "" if done.returncode == 0 else "\n".join(lines[-30:])}
    except subprocess.TimeoutExpired:
        result = {"ok": False, "summary": f"timed out after {LIMITS['tests']} s", "tail": ""}
    return result | {"seconds": time.perf_counter() - start}


def throughput(name: str, data, peak_tflops: float | None) -> dict:
    """One network: a warm-up epoch, then a measured one; images/s and MFU."""
    spec = backbones.get(name)
    macs = count(adapt(spec, data)).macs  # the network trained: the data's channels, classes and side
    config = TrainConfig(epochs=2, batch_size=BATCH, device="cuda", threads=1)
    torch.cuda.reset_peak_memory_stats()
    metrics = evaluate(spec, config, data)
    if metrics.failure or len(metrics.history) < 2:
        return {"network": name, "macs": macs, "failure": metrics.failure or "no second epoch"}
    rate = metrics.history[1].images_per_second
    achieved = 2 * macs * 3 * rate / 1e12
    return {"network": name, "macs": macs, "warmup_rate": metrics.history[0].images_per_second, "rate": rate,
            "tflops": achieved, "mfu": achieved / peak_tflops if peak_tflops else None,
            "memory_gib": torch.cuda.max_memory_allocated() / 2**30}


def run_training(peak_tflops: float | None) -> dict:
    start = time.perf_counter()
    data = load(DataSource("synthetic", resolution=SIDE, channels=3, num_classes=CLASSES, size=IMAGES), "cuda")
    rows = []
    for name in NETWORKS:
        if time.perf_counter() - start > LIMITS["train"]:
            rows.append({"network": name, "failure": f"not run: the step's {LIMITS['train']} s were spent"})
            continue
        log(f"training {name}")
        try:
            rows.append(throughput(name, data, peak_tflops))
        except Exception as err:  # noqa: BLE001 - recorded in the report, the next step still runs
            rows.append({"network": name, "failure": f"{type(err).__name__}: {str(err).splitlines()[0][:160]}"})
        torch.cuda.empty_cache()
    return {"rows": rows, "seconds": time.perf_counter() - start}


def run_search(where: Path) -> dict:
    """`nas search` with four trials sharing the GPU; wall time and what each trial recorded."""
    argv = [sys.executable, "-m", "nas", "search", "--space", "mobile", "--budget", "300MFLOPs", "--trials", "4",
            "--epochs", "2", "--gpus-per-trial", "0.25", "--max-concurrent", "4", "--run-dir", str(where / "run")]
    start = time.perf_counter()
    try:
        done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=LIMITS["search"], check=False)
    except subprocess.TimeoutExpired:
        return {"ok": False, "command": argv[2:], "failure": f"timed out after {LIMITS['search']} s"}
    seconds = time.perf_counter() - start
    trials_file = where / "run" / "trials.json"
    if done.returncode != 0 or not trials_file.is_file():
        return {"ok": False, "command": argv[2:], "seconds": seconds,
                "failure": f"exit {done.returncode}: {(done.stderr or done.stdout).strip()[-600:]}"}
    trials = [t for t in json.loads(trials_file.read_text()) if t["status"] in ("trained", "failed")]
    return {"ok": True, "command": argv[2:], "seconds": seconds, "trials": trials}


def machine() -> str:
    device = torch.device("cuda")
    major, minor = capability(device)
    props = torch.cuda.get_device_properties(device)
    return (f"{torch.cuda.get_device_name(device)} (compute capability {major}.{minor}, "
            f"{props.total_memory / 2**30:.0f} GiB), {torch.cuda.device_count()} visible; torch {torch.__version__} "
            f"(CUDA {torch.version.cuda}, cuDNN {torch.backends.cudnn.version()}); {cpu_name()}, {os.cpu_count()} "
            f"cores; training precision {str(precision(device)).replace('torch.', '')}")


def report(tests: dict, training: dict, searched: dict, peak_note: str, total: float) -> str:
    command = (f"Command: `.venv/bin/python experiments/gpu_check.py` (installs nothing; {time.strftime('%Y-%m-%d')}, "
               f"{total:.0f} s in all)")
    lines = ["# GPU check", "", command, "", f"Machine: {machine()}.", "", f"## CUDA tests ({tests['seconds']:.0f} s)",
             "", f"`pytest -m cuda tests/test_cuda.py tests/test_stream.py`: {tests['summary']}"]
    if tests["tail"]:
        lines += ["", "```", tests["tail"], "```"]
    lines += ["", f"## Training throughput ({training['seconds']:.0f} s)", "",
              f"Synthetic data, {IMAGES:,} images of 3x{SIDE}x{SIDE}, {CLASSES} classes, on the GPU; the proxy "
              f"trainer at batch {BATCH}; one warm-up epoch, then one measured. MFU = 2 x multiply-adds x 3 x "
              f"images/s over the peak ({peak_note}).", "",
              "| network | multiply-adds / image | warm-up epoch images/s | images/s | TFLOP/s | MFU | peak memory |",
              "|---|---|---|---|---|---|---|"]
    for r in training["rows"]:
        if "failure" in r:
            lines.append(f"| {r['network']} | {r.get('macs', 0):,} | failed: {r['failure']} | | | | |")
            continue
        mfu = f"{r['mfu']:.1%}" if r["mfu"] is not None else "-"
        lines.append(f"| {r['network']} | {r['macs']:,} | {r['warmup_rate']:,.0f} | {r['rate']:,.0f} | "
                     f"{r['tflops']:.1f} | {mfu} | {r['memory_gib']:.1f} GiB |")
    lines += ["", "## Search with --gpus-per-trial 0.25", "", f"`nas {' '.join(searched['command'])}`", ""]
    if not searched["ok"]:
        lines.append(f"Failed: {searched['failure']}")
    else:
        devices = sorted({str(t.get('device')) for t in searched["trials"]})
        lines += [f"{searched['seconds']:.0f} s wall (Ray start included); {len(searched['trials'])} training run(s), "
                  f"devices recorded: {', '.join(devices)}.", "", "| trial | status | accuracy | device | failure |",
                  "|---|---|---|---|---|"]
        lines += [f"| {t['number']} | {t['status']} | {t['accuracy'] if t['accuracy'] is not None else '-'} | "
                  f"{t.get('device') or '-'} | {t.get('failure') or ''} |" for t in searched["trials"]]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peak-tflops", type=float, help="the GPU's peak for the training precision (default: table)")
    parser.add_argument("--out", default=str(ROOT / "experiments" / "gpu_check.md"))
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print(f"gpu_check: torch {torch.__version__} sees no CUDA device; run it on a GPU machine", file=sys.stderr)
        return 2
    start = time.perf_counter()
    peak_tflops, peak_note = peak(torch.cuda.get_device_name(0), precision(torch.device("cuda")), args.peak_tflops)
    log("CUDA tests")
    tests = run_tests()
    log(f"CUDA tests: {tests['summary']}")
    training = run_training(peak_tflops)
    log("search with --gpus-per-trial 0.25")
    with tempfile.TemporaryDirectory(prefix="gpu-check-") as where:
        searched = run_search(Path(where))
    text = report(tests, training, searched, peak_note, time.perf_counter() - start)
    Path(args.out).write_text(text)
    print(text)
    return 0 if tests["ok"] and searched["ok"] and all("failure" not in r for r in training["rows"]) else 1


if __name__ == "__main__":
    sys.exit(main())
