"""Serving benchmark: the embed API under concurrency, against the best direct call of the
same model.

The peer (``serving_peer.DirectPeer``) is the limit: the same weights file, rebuilt in
plain PyTorch and run in this process on already-decoded images (no HTTP, no decoding, no
JSON) from one worker thread, the fastest of float32, bf16 autocast + channels_last, and
the same with the weights cast once, chosen per batch size. The API runs as its own
process (``sslpt api``) on this machine with the same number of torch threads; the
clients are asyncio + httpx here. Each image size (``--sizes``) is a run of its own:

1. idle latency: ``--latency-requests`` pairs of (one direct batch-1 forward, one
   single-image request to the idle server); p50/p99 of each and the median ratio;
2. throughput, ``--rounds`` rounds of: the direct loop at ``--max-batch`` for
   ``--seconds``, the worker's dataset-embedding path for ``--seconds``, then 1, 8 and 32
   closed-loop clients sending one image each for ``--seconds`` each. Ratios are taken
   per round, between neighbours (other processes on a shared machine make timings
   drift), in images per second and in images per CPU-second (the server process's CPU
   time against this process's during the direct loop: on a shared machine the side with
   more runnable threads wins a larger share of the cores, which the second ratio does not
   reward);
3. overload: open-loop arrivals at 4x the 32-client throughput for ``--seconds``; status
   codes, and the server's resident memory sampled through the run;
4. agreement: the cosine between bf16 and float32 vectors of real images (CIFAR-10 when
   ``../shared`` has it).

Targets (issues 9 and 20): 32 clients >= 0.8x the best direct batched forward in images
per server CPU-second; idle p50 <= 2x the best direct batch-1 forward; dataset embedding
>= 0.9x the best direct batched forward; overload answers 429s, no 5xx, memory bounded.

Usage (from the repository root): .venv/bin/python bench/serving.py [--sizes 32,224]. For
a "before" table, copy ``bench/`` into a checkout of an older commit and run it there with
``PYTHONPATH=<that checkout>``; the parts the older code lacks are skipped.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import io
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import httpx
import numpy as np
import torch
from common import CIFAR_TAR, ROOT, extract_cifar, load_average, machine
from PIL import Image
from prometheus_client.parser import text_string_to_metric_families
from safetensors.torch import save_file
from serving_peer import DatasetEmbedding, DirectPeer, bf16_agreement

from api.core.persistence import datasets, jobs, trained_models
from api.core.persistence.api_keys import create_key
from api.core.persistence.db import session_scope
from api.core.persistence.migrate import upgrade
from api.core.persistence.tables import LOCAL_TENANT
from api.core.settings import Settings
from ssl_engine.data.formats import decode_image_bytes
from ssl_engine.factory import build_method
from ssl_engine.recipe import Recipe


@dataclass
class Phase:
    name: str
    seconds: float
    statuses: Counter[int] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)  # successful requests only
    rejections: list[float] = field(default_factory=list)  # latencies of the 429s
    sent: int = 0  # requests started (open loop)
    failures: Counter[str] = field(default_factory=Counter)  # connection-level, by exception
    batch_images: float = 0.0
    batches: float = 0.0
    peak_rss_mb: float = 0.0

    @property
    def batch_mean(self) -> float:
        return self.batch_images / self.batches if self.batches else float("nan")

    @property
    def ok_per_sec(self) -> float:
        return self.statuses[200] / self.seconds

    def percentile_ms(self, q: float) -> float:
        return float(np.percentile(self.latencies, q) * 1000) if self.latencies else float("nan")


# The key of the benchmark's tenant, made with the model: every /v1 request sends it.
AUTH_HEADERS: dict[str, str] = {}


def register_model(settings: Settings, backbone: str, image_size: int) -> tuple[str, Path]:
    """A SimCLR model with random weights (speed does not depend on training)."""
    torch.manual_seed(0)
    method = build_method(Recipe("simclr", backbone, image_size))
    weights = settings.data_dir / "model" / "model.safetensors"
    weights.parent.mkdir(parents=True)
    save_file({k: v.contiguous() for k, v in method.state_dict().items()}, str(weights))
    upgrade(settings.resolved_database_url)
    with session_scope(settings.resolved_database_url, tenant=LOCAL_TENANT) as session:
        AUTH_HEADERS["Authorization"] = "Bearer " + create_key(session, LOCAL_TENANT).secret
        dataset = datasets.create_dataset(session, name="bench", path="/bench", image_count=1)
        job = jobs.create_job(
            session, method="simclr", dataset_id=dataset.id, backbone=backbone,
            image_size=image_size, epochs=1, batch_size=1, seed=0,
        )  # fmt: skip
        model = trained_models.create_model(
            session, job_id=job.id, dataset_id=dataset.id, method="simclr", backbone=backbone,
            image_size=image_size, hyperparameters={}, embed_dim=method.embed_dim,
            weights_path=str(weights), metrics={},
        )  # fmt: skip
        return model.id, weights


def real_images(count: int) -> list[Image.Image]:
    """CIFAR-10 images when ``../shared`` has them, else random pixels."""
    if CIFAR_TAR.exists():
        files = sorted(extract_cifar().rglob("*.jpg"))[:: 50000 // count][:count]
        return [Image.open(f).convert("RGB") for f in files]
    rng = np.random.default_rng(0)
    return [Image.fromarray(rng.integers(0, 256, (32, 32, 3), np.uint8)) for _ in range(count)]


def jpeg(image: Image.Image, image_size: int) -> bytes:
    """``image`` at ``image_size`` px, as a JPEG (quality 90) a client would send."""
    buffer = io.BytesIO()
    image.resize((image_size, image_size), Image.Resampling.BICUBIC).save(
        buffer, format="JPEG", quality=90
    )
    return buffer.getvalue()


@contextmanager
def api_server(settings: Settings, args: argparse.Namespace) -> Iterator[tuple[str, int]]:
    """``sslpt api`` as a subprocess; yields its URL and pid."""
    port = 18000 + os.getpid() % 1000
    env = {k: v for k, v in os.environ.items() if not k.startswith("SSLPT_")}
    env.update(
        SSLPT_DATA_DIR=str(settings.data_dir),
        SSLPT_PORT=str(port),
        SSLPT_DEVICE="cpu",
        SSLPT_TORCH_THREADS=str(torch.get_num_threads()),
        SSLPT_EMBED_MAX_BATCH=str(args.max_batch),
        SSLPT_EMBED_MAX_WAIT_MS=str(args.max_wait_ms),
        SSLPT_EMBED_MAX_QUEUE=str(args.max_queue),
        SSLPT_RECONCILE_INTERVAL_SECONDS="3600",
        SSLPT_RATE_LIMIT_PER_SECOND="0",  # the benchmark measures serving, not the limiters
        SSLPT_ADDRESS_RATE_LIMIT_PER_SECOND="0",
        SSLPT_SERVING_PRECISION=args.precision,
    )
    log = (settings.data_dir / "api.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "api"], env=env, cwd=ROOT, stdout=log, stderr=log
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
            time.sleep(0.2)
        yield url, process.pid
    finally:
        process.terminate()
        process.wait(timeout=30)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of every thread of ``pid`` so far."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        line = next(line for line in status if line.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


@contextmanager
def rss_sampler(pid: int) -> Iterator[list[float]]:
    samples: list[float] = []
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            samples.append(rss_mb(pid))
            stop.wait(0.1)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield samples
    finally:
        stop.set()
        thread.join()


def batch_stats(url: str, model_id: str) -> tuple[float, float]:
    """(sum, count) of the model's sslpt_embed_batch_size histogram."""
    found = {"sum": 0.0, "count": 0.0}
    for family in text_string_to_metric_families(httpx.get(f"{url}/metrics").text):
        for sample in family.samples:
            if sample.labels.get("model") == model_id and sample.name.startswith(
                "sslpt_embed_batch_size_"
            ):
                found[sample.name.rsplit("_", 1)[1]] = sample.value
    return found["sum"], found["count"]


async def post(http: httpx.AsyncClient, path: str, body: bytes, phase: Phase) -> None:
    tick = time.perf_counter()
    try:
        response = await http.post(path, content=body, headers={"content-type": "application/json"})
        status = response.status_code
    except httpx.HTTPError as error:
        status = -1  # connection-level failure, counted apart from HTTP statuses
        phase.failures[f"{type(error).__name__}: {error}"[:120]] += 1
    phase.statuses[status] += 1
    if status == 200:
        phase.latencies.append(time.perf_counter() - tick)
    elif status == 429:
        phase.rejections.append(time.perf_counter() - tick)


async def closed_loop(
    url: str, path: str, body: bytes, clients: int, seconds: float, phase: Phase
) -> None:
    limits = httpx.Limits(max_connections=clients)
    async with httpx.AsyncClient(
        base_url=url, headers=AUTH_HEADERS, timeout=120, limits=limits
    ) as http:
        deadline = time.perf_counter() + seconds
        phase.seconds += seconds

        async def client() -> None:
            while time.perf_counter() < deadline:
                await post(http, path, body, phase)

        await asyncio.gather(*(client() for _ in range(clients)))


async def open_loop(url: str, path: str, body: bytes, rate: float, phase: Phase) -> None:
    """Requests start at ``rate`` per second whatever the answers: real overload."""
    limits = httpx.Limits(max_connections=1024)
    async with httpx.AsyncClient(
        base_url=url, headers=AUTH_HEADERS, timeout=120, limits=limits
    ) as http:
        pending: set[asyncio.Task[None]] = set()
        start = time.perf_counter()
        sent = 0
        total = round(rate * phase.seconds)
        while sent < total:  # a stalled client catches up: the offered load stays exact
            due = min(total, int((time.perf_counter() - start) * rate) + 1)
            while sent < due:
                task = asyncio.create_task(post(http, path, body, phase))
                pending.add(task)
                task.add_done_callback(pending.discard)
                sent += 1
            await asyncio.sleep(0.002)
        await asyncio.gather(*pending)
        phase.seconds = time.perf_counter() - start  # arrivals, then the queue draining
        phase.sent = sent


def run_phase(url: str, pid: int, model_id: str, phase: Phase, load: object) -> None:
    before = batch_stats(url, model_id)
    with rss_sampler(pid) as samples:
        asyncio.run(load)  # type: ignore[arg-type]
    after = batch_stats(url, model_id)
    phase.batch_images += after[0] - before[0]
    phase.batches += after[1] - before[1]
    phase.peak_rss_mb = max(phase.peak_rss_mb, *samples)


def report(phase: Phase) -> str:
    codes = ", ".join(f"{code}: {n}" for code, n in sorted(phase.statuses.items()))
    return (
        f"{phase.name:<22} {phase.ok_per_sec:8.1f} img/s  p50 {phase.percentile_ms(50):7.1f} ms"
        f"  p99 {phase.percentile_ms(99):7.1f} ms  mean batch {phase.batch_mean:5.1f}"
        f"  peak RSS {phase.peak_rss_mb:6.0f} MB  [{codes}]"
    )


@dataclass
class SizeResult:
    image_size: int
    direct_best: dict[int, str]
    idle_ratio: float
    idle_p50_ms: float
    direct_1_ms: float
    client_rates: dict[int, float]  # images/s, median over rounds
    client_per_cpu: dict[int, float]  # images per server CPU-second, median over rounds
    direct_rate: float
    direct_per_cpu: float
    ratio_32_per_cpu: float  # median over rounds of the per-round ratio
    ratio_32: float
    dataset_ratio: float | None  # dataset embedding / direct batched, per CPU-second
    phases: list[Phase]
    overload: Phase
    agreement: tuple[float, float] | None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backbone", default="resnet18")
    parser.add_argument("--sizes", default="32,224", help="image sizes, one run each")
    parser.add_argument("--precision", default="auto", help="SSLPT_SERVING_PRECISION")
    parser.add_argument("--max-batch", type=int, default=32)
    parser.add_argument("--max-wait-ms", type=float, default=5.0)
    parser.add_argument("--max-queue", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--latency-requests", type=int, default=100)
    parser.add_argument(
        "--threads", type=int, default=0, help="torch threads, here and in the server (0: default)"
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"machine: {machine()}; torch threads {torch.get_num_threads()}; code at {ROOT}")
    print(f"load average at start: {load_average()}")
    results = [run_size(args, int(size)) for size in args.sizes.split(",")]
    print()
    print(
        "size | best direct b32 / b1 | idle p50 / direct b1 | 1 / 8 / 32 clients img/s "
        "| per server CPU-s | direct b32 img/s (per CPU-s) | 32 clients / direct per CPU-s "
        "| dataset embedding / direct | bf16 vs fp32 cosine min (mean)"
    )
    for r in results:
        agreement = f"{r.agreement[0]:.5f} ({r.agreement[1]:.5f})" if r.agreement else "-"
        dataset = f"{r.dataset_ratio:.2f}" if r.dataset_ratio is not None else "-"
        print(
            f"{r.image_size} | {r.direct_best[args.max_batch]} / {r.direct_best[1]} "
            f"| {r.idle_p50_ms:.1f} / {r.direct_1_ms:.1f} ms = {r.idle_ratio:.2f} "
            f"| {' / '.join(f'{r.client_rates[c]:.1f}' for c in CLIENTS)} "
            f"| {' / '.join(f'{r.client_per_cpu[c]:.1f}' for c in CLIENTS)} "
            f"| {r.direct_rate:.1f} ({r.direct_per_cpu:.1f}) | {r.ratio_32_per_cpu:.2f} "
            f"(per wall-s {r.ratio_32:.2f}) | {dataset} | {agreement}"
        )
    print(f"load average at end: {load_average()}")


CLIENTS = (1, 8, 32)


def run_size(args: argparse.Namespace, size: int) -> SizeResult:
    print(f"\n=== {args.backbone} at {size} px, serving precision {args.precision}")
    samples = real_images(256)
    recipe = Recipe("simclr", args.backbone, size)
    with tempfile.TemporaryDirectory(prefix="sslpt-bench-serving-") as tmp:
        settings = Settings(data_dir=Path(tmp))
        model_id, weights = register_model(settings, args.backbone, size)
        image = jpeg(samples[0], size)
        body = json.dumps({"images": [base64.b64encode(image).decode()]}).encode()
        path = f"/v1/models/{model_id}/embed"
        peer = DirectPeer(weights, recipe, decode_image_bytes(image, size), args.max_batch)
        pixels = torch.stack(
            [decode_image_bytes(jpeg(sample, size), size) for sample in samples]
        )  # (N, 3, S, S) in [0, 1]
        dataset = optional(
            lambda: DatasetEmbedding(
                weights,
                recipe,
                (pixels * 255).round().to(torch.uint8),
                args.precision,
                args.max_batch,
            )
        )
        agreement = optional(lambda: bf16_agreement(weights, recipe, pixels))
        with api_server(settings, args) as (url, pid):
            httpx.post(
                f"{url}/v1/models/{model_id}/warmup", headers=AUTH_HEADERS, timeout=120
            ).raise_for_status()
            idle, forwards = Phase("idle, 1 client", 0), []
            asyncio.run(
                _paired_latency(url, path, body, peer, args.latency_requests, idle, forwards)
            )
            ratios = [lat / fwd for lat, fwd in zip(idle.latencies, forwards, strict=True)]
            print(
                f"idle latency: server p50 {idle.percentile_ms(50):.1f} ms, p99 "
                f"{idle.percentile_ms(99):.1f} ms; direct batch-1 p50 "
                f"{np.median(forwards) * 1000:.1f} ms, p99 {np.percentile(forwards, 99) * 1000:.1f}"
                f" ms; median ratio {np.median(ratios):.2f} (target <= 2)"
            )
            phases = {clients: Phase(f"{clients} clients", 0) for clients in CLIENTS}
            rates: dict[int, list[float]] = {c: [] for c in CLIENTS}
            per_cpu: dict[int, list[float]] = {c: [] for c in CLIENTS}
            direct_rates, direct_cpu, round_ratios, cpu_ratios, dataset_ratios = [], [], [], [], []
            for round_index in range(args.rounds):
                direct_rate, direct_per_cpu = peer.images_per_sec(args.seconds)
                direct_rates.append(direct_rate)
                direct_cpu.append(direct_per_cpu)
                if dataset is not None:
                    _, dataset_per_cpu = dataset.images_per_sec(args.seconds)
                    dataset_ratios.append(dataset_per_cpu / direct_per_cpu)
                for clients, phase in phases.items():
                    served, cpu = phase.statuses[200], cpu_seconds(pid)
                    load = closed_loop(url, path, body, clients, args.seconds, phase)
                    run_phase(url, pid, model_id, phase, load)
                    done = phase.statuses[200] - served
                    rates[clients].append(done / args.seconds)
                    per_cpu[clients].append(done / (cpu_seconds(pid) - cpu))
                round_ratios.append(rates[32][-1] / direct_rate)
                cpu_ratios.append(per_cpu[32][-1] / direct_per_cpu)
                print(
                    f"round {round_index + 1}: direct batch {args.max_batch} "
                    f"{direct_rate:.1f} img/s ({direct_per_cpu:.1f} per CPU-s)"
                    + (f"; dataset embedding {dataset_ratios[-1]:.2f}x" if dataset_ratios else "")
                    + "; 1/8/32 clients "
                    + " / ".join(f"{rates[c][-1]:.1f}" for c in CLIENTS)
                    + " img/s ("
                    + " / ".join(f"{per_cpu[c][-1]:.1f}" for c in CLIENTS)
                    + f" per server CPU-s); 32 clients / direct {round_ratios[-1]:.2f}, "
                    f"per CPU-s {cpu_ratios[-1]:.2f}"
                )
            rate = 4 * phases[32].ok_per_sec
            overload = Phase(f"overload {rate:.0f} req/s", args.seconds)  # seconds: set by the run
            run_phase(url, pid, model_id, overload, open_loop(url, path, body, rate, overload))
            settled = rss_mb(pid)
        peer.close()

    for phase in (*phases.values(), overload):
        print(report(phase))
    errors = sum(n for code, n in overload.statuses.items() if code >= 500 or code < 0)
    print(
        f"overload: {overload.sent} sent, {overload.statuses[429]} x 429, {errors} x 5xx/failed; "
        f"server RSS peak {overload.peak_rss_mb:.0f} MB (32 clients: "
        f"{phases[32].peak_rss_mb:.0f} MB), {settled:.0f} MB after"
    )
    if overload.failures:
        print(f"connection-level failures under overload: {dict(overload.failures)}")
    return SizeResult(
        image_size=size,
        direct_best=peer.best,
        idle_ratio=float(np.median(ratios)),
        idle_p50_ms=idle.percentile_ms(50),
        direct_1_ms=float(np.median(forwards) * 1000),
        client_rates={c: float(np.median(rates[c])) for c in CLIENTS},
        client_per_cpu={c: float(np.median(per_cpu[c])) for c in CLIENTS},
        direct_rate=float(np.median(direct_rates)),
        direct_per_cpu=float(np.median(direct_cpu)),
        ratio_32_per_cpu=float(np.median(cpu_ratios)),
        ratio_32=float(np.median(round_ratios)),
        dataset_ratio=float(np.median(dataset_ratios)) if dataset_ratios else None,
        phases=list(phases.values()),
        overload=overload,
        agreement=agreement,
    )


T = TypeVar("T")


def optional(make: Callable[[], T]) -> T | None:
    """``make()``, or None when the code under test predates it (a "before" run)."""
    try:
        return make()
    except (ImportError, TypeError) as error:
        print(f"skipped (the code under test lacks it): {error}")
        return None


async def _paired_latency(
    url: str,
    path: str,
    body: bytes,
    peer: DirectPeer,
    count: int,
    phase: Phase,
    forwards: list[float],
) -> None:
    """Alternate a direct batch-1 forward and one request to the idle server."""
    async with httpx.AsyncClient(base_url=url, headers=AUTH_HEADERS, timeout=60) as http:
        for _ in range(count):
            forwards.append(peer.batch_1_seconds())
            await post(http, path, body, phase)
    if len(phase.latencies) != count:
        raise SystemExit(f"idle requests failed: {dict(phase.statuses)}")


if __name__ == "__main__":
    main()
