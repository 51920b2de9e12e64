#!/usr/bin/env bash
# The fast path on a GPU: CUDA correctness checks, then bench/throughput.py at GPU scale.
#
# 1. Here (the CPU machine, which reaches PyPI), once:
#        bash bench/gpu_check.sh --prepare
#    puts into bench/out/gpu (gitignored, ~13 MB): a 10,000-image CIFAR-10 subset (the
#    full set is over the device tool's 64 MiB) and the wheels the GPU image lacks
#    (pydantic for ssl_engine, lightly for the peer; both are pure or cp312 wheels).
# 2. On the GPU machine, through the device tool:
#        command: bash bench/gpu_check.sh      carry: ["bench/out/gpu"]      timeout_s: 420
#    It installs the wheels into /tmp/site, runs bench/gpu_correctness.py, then the
#    throughput benchmark (peer, ours, ours in float32, compute-only limit). About 3-4
#    minutes on an H100. The GPU image's torch (not this project's pin) is used there.
set -euo pipefail
cd "$(dirname "$0")/.."
gpu=bench/out/gpu

if [[ "${1:-}" == "--prepare" ]]; then
    mkdir -p "$gpu/wheels"
    .venv/bin/python -c "
import sys; sys.path.insert(0, 'bench')
from common import class_subset, extract_cifar
from pathlib import Path
class_subset(extract_cifar(), Path('$gpu/cifar10'), 1000)"
    # Versions as in this project's .venv / the peer venv; cp312 is the GPU image's Python.
    .venv/bin/python -m pip download --quiet --no-deps --only-binary=:all: \
        --python-version 3.12 --implementation cp \
        --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
        -d "$gpu/wheels" lightly==1.6.0 pydantic==2.14.4 pydantic-core==2.50.5 \
        annotated-types==0.8.0 typing-inspection==0.4.5
    du -sh "$gpu"
    exit 0
fi

python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site "$gpu"/wheels/*.whl
export PYTHONPATH="/tmp/site:$PWD" PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 bench/gpu_correctness.py --device cuda
python3 bench/throughput.py --device cuda --data "$gpu/cifar10" --peer-python python3 \
    --sides peer,ours,ours_fp32,limit --reps 3 --warmup 10 --steps 50
