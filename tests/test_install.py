"""install.sh chooses torch without downloading anything to find out (`--dry-run`): it keeps a CUDA torch the
machine has, never gives a GPU machine a CPU torch, and takes the CPU wheel only where there is no GPU. The
machine is faked: a `python3` that answers the torch question, an `nvidia-smi` that lists a GPU or fails."""
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def fake(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n" + text + "\n")
    path.chmod(0o755)
    return path


def plan(tmp_path, torch: str | None, gpu: bool, *args: str, venv_torch: str | None = None):
    """install.sh --dry-run on a machine whose python3 has `torch` ('VERSION CUDA', None: no torch), with or
    without a GPU; returns (exit code, stdout, stderr)."""
    python = fake(tmp_path / "base" / "python3", f"echo {torch}" if torch else "exit 1")
    fake(tmp_path / "bin" / "nvidia-smi", "echo 'GPU 0: NVIDIA H200 (UUID: GPU-0)'" if gpu else "exit 9")
    venv = tmp_path / "venv"
    if venv_torch:
        fake(venv / "bin" / "python", f"echo {venv_torch}")
    env = os.environ | {"NAS_PYTHON": str(python), "PATH": f"{tmp_path / 'bin'}:{os.environ['PATH']}"}
    env.pop("NAS_TORCH", None)
    done = subprocess.run(["bash", str(ROOT / "install.sh"), "--dry-run", *args, str(venv)], env=env,
                          capture_output=True, text=True, timeout=60, check=False)
    assert not (venv.exists() and not venv_torch), "a dry run created the venv"
    return done.returncode, done.stdout.strip(), done.stderr.strip()


@pytest.mark.parametrize("torch,gpu,expected", [
    ("2.4.1+cu121 12.1", True, "torch: system: keep the machine's torch 2.4.1+cu121 (venv with "
                               "--system-site-packages); GPU machine: yes"),
    ("2.4.1+cu121 12.1", False, "torch: system: keep the machine's torch 2.4.1+cu121"),  # a CUDA torch, no driver now
    (None, True, "torch: cuda: the package index's default torch wheel; GPU machine: yes"),
    ("2.13.0+cpu none", True, "torch: cuda: "),  # a CPU torch on a GPU machine is not kept for the venv
    (None, False, "torch: cpu: torch==2.13.0, the CPU wheel (also looked for in https://download.pytorch.org/whl/cpu)"
                  "; GPU machine: no"),
    ("2.13.0+cpu none", False, "torch: cpu: "),
])
def test_auto_keeps_a_cuda_torch_and_never_puts_a_cpu_torch_on_a_gpu_machine(tmp_path, torch, gpu, expected):
    code, out, err = plan(tmp_path, torch, gpu)
    assert code == 0 and out.startswith(expected) and err == ""


def test_a_venv_with_torch_keeps_it_and_the_flag_chooses(tmp_path):
    assert plan(tmp_path / "a", None, False, venv_torch="2.3.0+cu118 11.8")[1] == (
        "torch: keep the venv's torch 2.3.0+cu118; GPU machine: no")
    assert plan(tmp_path / "b", "2.4.1+cu121 12.1", True, "--torch", "cpu")[1].startswith("torch: cpu: ")
    assert plan(tmp_path / "c", None, False, "--torch=cuda")[1].startswith("torch: cuda: ")


@pytest.mark.parametrize("args,message", [
    (("--torch", "rocm"), "install.sh: --torch must be auto, system, cuda or cpu; got 'rocm'"),
    (("--torch", "system"), "install.sh: --torch system, but"),
    (("--fast",), "install.sh: unknown option --fast; see ./install.sh --help"),
])
def test_bad_flags_are_one_line_errors(tmp_path, args, message):
    code, out, err = plan(tmp_path, None, False, *args)
    assert code == 2 and out == "" and err.startswith(message) and err.count("\n") == 0
