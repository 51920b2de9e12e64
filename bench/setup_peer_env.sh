#!/usr/bin/env bash
# Creates bench/.venv-peer: a benchmark-only environment holding lightly (the
# peer whose reference SimCLR loop bench/throughput.py races against) next to
# the same torch/torchvision as the project's own .venv, plus this project.
#
# Usage: bash bench/setup_peer_env.sh        (from the repository root)
set -euo pipefail

cd "$(dirname "$0")/.."
venv=bench/.venv-peer
torch_pin="torch==2.14.1"
vision_pin="torchvision==0.29.1"

if [[ ! -x "$venv/bin/python" ]]; then
    python3.11 -m venv "$venv"
fi
# Pin torch in the same command as lightly so pip cannot pick another torch.
"$venv/bin/pip" install --quiet "$torch_pin" "$vision_pin" lightly
"$venv/bin/pip" install --quiet -e .

# lightly must not have moved torch: fail loudly if it did.
"$venv/bin/python" - "$torch_pin" "$vision_pin" <<'PY'
import sys

import lightly
import torch
import torchvision

want_torch = sys.argv[1].split("==")[1]
want_vision = sys.argv[2].split("==")[1]
got = {"torch": torch.__version__, "torchvision": torchvision.__version__}
if not (torch.__version__.startswith(want_torch) and torchvision.__version__.startswith(want_vision)):
    sys.exit(f"peer env has {got}, wanted torch {want_torch} / torchvision {want_vision}")
print(f"peer env ready: lightly {lightly.__version__}, {got}")
PY
