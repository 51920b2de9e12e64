#!/usr/bin/env bash
# Representation quality on a GPU: lightly's CIFAR-10 protocol (ResNet-18 with the CIFAR
# stem, batch 128, kNN k = 200, t = 0.1), ours next to lightly's implementation of each
# method with lightly's own recipe, through bench/quality.py.
#
# lightly publishes, at 200 epochs on all 50,000 training images (10,000 test images as
# queries): SimCLR 0.847, BYOL 0.869. The device tool carries at most 64 MiB, so this runs
# on the 10,000-image subset bench/gpu_check.sh prepares (900 images per class trained
# on, the product's 100 held out per class as queries): compare ours with lightly's in
# the same run, not with the published numbers.
#
# 1. Here, once:   bash bench/gpu_check.sh --prepare     (data subset and wheels)
# 2. On the GPU machine, through the device tool:
#        command: EPOCHS=10 bash bench/gpu_quality.sh     carry: ["bench/out/gpu"]
#    EPOCHS (default 10) sets the budget: 10 for a short slot, 200 for lightly's table;
#    METHODS (default "simclr byol") and SEEDS (default "0") pick the rows.
set -euo pipefail
cd "$(dirname "$0")/.."
gpu=bench/out/gpu
epochs="${EPOCHS:-10}"
methods="${METHODS:-simclr byol}"
seeds="${SEEDS:-0}"

if [[ ! -d "$gpu/wheels" || ! -d "$gpu/cifar10" ]]; then
    echo "$gpu is incomplete: run 'bash bench/gpu_check.sh --prepare' on the CPU machine" >&2
    exit 2
fi
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site "$gpu"/wheels/*.whl
export PYTHONPATH="/tmp/site:$PWD" PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
# shellcheck disable=SC2086  # methods and seeds are word lists
python3 bench/quality.py --device cuda --peer-python python3 --peer-workers 4 \
    --data "$gpu/cifar10" --cache /tmp/quality-cache \
    --train-per-class 900 --eval-per-class 100 --backbone resnet18 --batch-size 128 \
    --epochs "$epochs" --seeds $seeds --methods $methods
