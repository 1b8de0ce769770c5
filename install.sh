#!/usr/bin/env bash
# Install nas into a virtual environment (default .venv) on a fresh machine, CPU or GPU.
#
#   ./install.sh [--torch auto|system|cuda|cpu] [--dry-run] [VENV]
#
# torch, the one heavy dependency, comes from --torch (or $NAS_TORCH); auto, the default, takes the first of:
#   keep    the venv already has torch: it stays as it is
#   system  the machine's python3 has a CUDA build of torch: the venv is made with --system-site-packages and
#           keeps it (nothing downloaded; works offline)
#   cuda    a GPU machine (nvidia-smi lists a GPU): the package index's default torch wheel (a CUDA build on
#           Linux x86_64)
#   cpu     anywhere else: the CPU wheel (from PyTorch's CPU index, $NAS_TORCH_INDEX, beside the configured ones),
#           so the project's torch requirement never pulls a multi-GB CUDA build onto a CPU machine
# A GPU machine never ends with a CPU torch: when the venv's torch cannot use CUDA there, the install fails
# (after --torch system or cuda) or says so (a venv that already had it). --dry-run prints the choice only.
set -euo pipefail
mode="${NAS_TORCH:-auto}" dry=0 venv=".venv"
while [ $# -gt 0 ]; do
    case "$1" in
        --torch) mode="${2:-}"; shift 2 || shift ;;
        --torch=*) mode="${1#*=}"; shift ;;
        --dry-run) dry=1; shift ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
        -*) echo "install.sh: unknown option $1; see ./install.sh --help" >&2; exit 2 ;;
        *) venv="$1"; shift ;;
    esac
done
case "$mode" in auto|system|cuda|cpu) ;; *)
    echo "install.sh: --torch must be auto, system, cuda or cpu; got '$mode'" >&2; exit 2 ;;
esac
base="${NAS_PYTHON:-python3}"
cpu_index="${NAS_TORCH_INDEX-https://download.pytorch.org/whl/cpu}"
cpu_version="${NAS_TORCH_VERSION:-2.13.0}"
cd "$(dirname "$0")"

torch_of() {  # "VERSION CUDA" of the torch a python imports ("2.4.1+cu121 12.1", "2.13.0+cpu none"), or nothing
    "$1" -c "import torch; print(torch.__version__, torch.version.cuda or 'none')" 2>/dev/null || true
}
gpu_machine() { command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L 2>/dev/null | grep -q '^GPU'; }

system_torch="$(torch_of "$base")"
venv_torch=""
[ -x "$venv/bin/python" ] && venv_torch="$(torch_of "$venv/bin/python")"
gpu=no
gpu_machine && gpu=yes
if [ "$mode" = auto ]; then
    if [ -n "$venv_torch" ]; then mode=keep
    elif [ -n "$system_torch" ] && [ "${system_torch##* }" != none ]; then mode=system
    elif [ "$gpu" = yes ]; then mode=cuda
    else mode=cpu
    fi
fi
if [ "$mode" = system ] && [ -z "$system_torch" ]; then
    echo "install.sh: --torch system, but $base has no torch; use --torch cuda or --torch cpu" >&2; exit 2
fi
case "$mode" in
    keep) plan="keep the venv's torch ${venv_torch% *}" ;;
    system) plan="system: keep the machine's torch ${system_torch% *} (venv with --system-site-packages)" ;;
    cuda) plan="cuda: the package index's default torch wheel" ;;
    cpu) plan="cpu: torch==$cpu_version, the CPU wheel${cpu_index:+ (also looked for in $cpu_index)}" ;;
esac
echo "torch: $plan; GPU machine: $gpu"
[ "$dry" = 1 ] && exit 0
if [ "$mode" = cpu ] && [ -n "$cpu_index" ] && ! "$base" -c \
        "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=5)" "$cpu_index/" 2>/dev/null; then
    echo "torch: $cpu_index does not answer (offline?): the configured package index only"
    cpu_index=""
fi

if [ "$mode" = system ]; then
    "$base" -m venv --system-site-packages "$venv"  # an existing venv is kept, its pyvenv.cfg updated
else
    [ -x "$venv/bin/python" ] || "$base" -m venv "$venv"
fi
pip=("$venv/bin/python" -m pip install -q)
"${pip[@]}" --upgrade pip
case "$mode" in
    cuda) "${pip[@]}" torch ;;
    cpu) "${pip[@]}" "torch==$cpu_version" ${cpu_index:+--extra-index-url "$cpu_index"} ;;
esac
"${pip[@]}" -e ".[${NAS_EXTRAS:-test}]"
if [ "$gpu" = yes ] && [ "$("$venv/bin/python" -c 'import torch; print(torch.cuda.is_available())')" != True ]; then
    message="torch $("$venv/bin/python" -c 'import torch; print(torch.__version__)') in $venv cannot use this machine's GPU"
    if [ "$mode" = keep ]; then
        echo "install.sh: warning: $message; ./install.sh --torch system (or cuda) in a new venv gives a CUDA torch" >&2
    else
        echo "install.sh: $message; install a CUDA build of torch first (pytorch.org), then ./install.sh --torch system" >&2
        exit 1
    fi
fi
echo "installed nas into $venv"
