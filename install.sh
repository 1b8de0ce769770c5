#!/usr/bin/env bash
# Install nas into a virtual environment (default .venv) on a fresh machine, CPU or GPU.
# Where the environment has no torch yet, the CPU wheel this machine serves goes in first, so that the
# project's `torch>=2.1` requirement never pulls a multi-GB CUDA build; a machine with torch keeps it.
set -euo pipefail
venv="${1:-.venv}"
extras="${NAS_EXTRAS:-test}"
cd "$(dirname "$0")"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -m pip install -q --upgrade pip
"$venv/bin/python" -c "import torch" 2>/dev/null || "$venv/bin/python" -m pip install -q torch==2.13.0
"$venv/bin/python" -m pip install -q -e ".[$extras]"
echo "installed nas into $venv"
