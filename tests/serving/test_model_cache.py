"""ModelCache: load once, reuse, evict least recently used past the memory budget."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from api.serving.batcher import BatcherClosedError, BatchingConfig
from api.serving.model_cache import CacheLimits, ModelCache
from tests.serving.random_models import save_random_model


def cache_events(model_id: str, event: str) -> float:
    value = REGISTRY.get_sample_value(
        "sslpt_model_cache_events_total", {"model": model_id, "event": event}
    )
    return value or 0.0


def make_cache(capacity: int = 4, budget_bytes: int = 1 << 30) -> ModelCache:
    return ModelCache(CacheLimits(capacity, budget_bytes), "cpu", BatchingConfig())


def test_first_call_loads_and_later_calls_reuse(tmp_path: Path) -> None:
    spec = save_random_model(tmp_path / "m-reuse")
    cache = make_cache()
    first = cache.get(spec)
    assert cache.get(spec) is first
    assert cache.peek(spec.model_id) is first
    assert cache_events(spec.model_id, "miss") == 1
    assert cache_events(spec.model_id, "hit") == 2
    assert first.nbytes > 0 and cache.total_bytes == first.nbytes
    cache.close()


def test_concurrent_first_calls_load_the_model_once(tmp_path: Path) -> None:
    spec = save_random_model(tmp_path / "m-concurrent")
    cache = make_cache()
    found = []
    threads = [threading.Thread(target=lambda: found.append(cache.get(spec))) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({id(m) for m in found}) == 1
    assert cache_events(spec.model_id, "miss") == 1
    cache.close()


def test_models_over_the_budget_are_evicted_least_recently_used_first(tmp_path: Path) -> None:
    a, b, c = (save_random_model(tmp_path / f"m-budget-{n}") for n in "abc")
    size = make_cache().get(a).nbytes
    cache = make_cache(capacity=10, budget_bytes=int(size * 2.5))  # room for two
    loaded_a = cache.get(a)
    cache.get(b)
    cache.get(a)  # a is now the most recently used
    cache.get(c)
    assert cache.loaded_ids() == [a.model_id, c.model_id]
    assert cache_events(b.model_id, "evict") == 1
    assert cache.get(a) is loaded_a
    cache.close()


def test_eviction_stops_the_evicted_models_batcher(tmp_path: Path) -> None:
    a, b = save_random_model(tmp_path / "m-stop-a"), save_random_model(tmp_path / "m-stop-b")
    cache = make_cache(capacity=1)
    evicted = cache.get(a)
    cache.get(b)
    evicted.batcher.join(timeout=5)
    with pytest.raises(BatcherClosedError):
        evicted.batcher.admit()
    cache.close()


def test_a_model_larger_than_the_budget_still_serves_alone(tmp_path: Path) -> None:
    spec = save_random_model(tmp_path / "m-huge")
    cache = make_cache(budget_bytes=1)
    assert cache.get(spec).spec == spec
    assert cache.loaded_ids() == [spec.model_id]
    cache.close()
