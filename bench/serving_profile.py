"""Where the API process spends its CPU while serving embeddings: py-spy samples the
server under closed-loop clients and the samples are summed by function.

Prints, per function, the share of the running samples spent in it (inclusive) and in its
own code (self), for the top functions, and the process's CPU time per image (from
/proc) split between the model's forward pass and everything else in those proportions.
Time in C code (torch, Pillow, the HTTP parser) counts for the Python frame calling it. Needs py-spy
(``.venv/bin/pip install py-spy``; it reads the process's memory, as root or with ptrace
allowed).

Usage (from the repository root):
    .venv/bin/python bench/serving_profile.py [--image-size 32] [--clients 32] [--seconds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

from common import load_average, machine
from serving import (
    Phase,
    api_server,
    closed_loop,
    cpu_seconds,
    jpeg,
    real_images,
    register_model,
)

from api.core.settings import Settings

FORWARD = "embed_batch"  # LoadedModel.embed_batch: the forward pass and nothing else
# Sampling without stopping the process (which would distort it) cannot tell a waiting
# thread from a running one; stacks that end in these waits are not CPU and are dropped.
WAITS = frozenset({"Condition.wait", "EpollSelector.select", "Event.wait", "select", "sleep"})
TOP = 25


def record(pid: int, seconds: float, out: Path) -> subprocess.Popen[bytes]:
    """py-spy writing the raw (collapsed) stacks of every thread of ``pid`` on CPU to
    ``out`` for ``seconds``."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    return subprocess.Popen(
        [spy, "record", "--pid", str(pid), "--duration", str(int(seconds)), "--rate", "200",
         "--format", "raw", "--output", str(out), "--nonblocking", "--threads"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def summarise(raw: Path, images: int, cpu: float) -> None:
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = forward = 0
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        count = int(count_text)
        frames = [frame.split(" (")[0] for frame in stack.split(";")[1:]]  # drop the thread
        if not frames or frames[-1] in WAITS:
            continue
        total += count
        own[frames[-1]] += count
        for name in set(frames):
            inclusive[name] += count
        forward += count if any(FORWARD in frame for frame in frames) else 0
    print(f"{total} samples running; {images} images answered; {cpu:.1f} CPU-s of the server")
    per_image = cpu / images * 1000
    print(
        f"CPU per image: {per_image:.2f} ms, of which the forward pass "
        f"{per_image * forward / total:.2f} ms and the rest {per_image * (1 - forward / total):.2f}"
        " ms"
    )
    print(f"\n{'inclusive':>9} {'self':>6}  function")
    for name, count in inclusive.most_common(TOP):
        print(f"{count / total:9.1%} {own[name] / total:6.1%}  {name}")
    print(f"\n{'self':>6}  function (top by own time)")
    for name, count in own.most_common(TOP):
        print(f"{count / total:6.1%}  {name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backbone", default="resnet18")
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--max-batch", type=int, default=32)
    parser.add_argument("--max-wait-ms", type=float, default=5.0)
    parser.add_argument("--max-queue", type=int, default=64)
    parser.add_argument("--keep", type=Path, help="copy the raw py-spy stacks here")
    args = parser.parse_args()
    print(f"machine: {machine()}; load average at start: {load_average()}")
    with tempfile.TemporaryDirectory(prefix="sslpt-bench-profile-") as tmp:
        settings = Settings(data_dir=Path(tmp))
        model_id, _ = register_model(settings, args.backbone, args.image_size)
        image = jpeg(real_images(1)[0], args.image_size)
        body = json.dumps({"images": [base64.b64encode(image).decode()]}).encode()
        path = f"/v1/models/{model_id}/embed"
        with api_server(settings, args) as (url, pid):
            warm = Phase("warm-up", 0)
            asyncio.run(closed_loop(url, path, body, args.clients, 3, warm))
            phase, cpu = Phase("profiled", 0), cpu_seconds(pid)
            raw = Path(tmp) / "profile.txt"
            spy = record(pid, args.seconds, raw)
            asyncio.run(closed_loop(url, path, body, args.clients, args.seconds, phase))
            if spy.wait() != 0:
                raise SystemExit("py-spy failed (it needs ptrace rights over the server)")
            cpu = cpu_seconds(pid) - cpu
        print(f"{args.clients} clients, {args.image_size} px: {phase.ok_per_sec:.1f} img/s")
        summarise(raw, phase.statuses[200], cpu)
        if args.keep:
            shutil.copy(raw, args.keep)
    print(f"load average at end: {load_average()}")


if __name__ == "__main__":
    main()
