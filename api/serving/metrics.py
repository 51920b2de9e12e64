"""Prometheus series of the embedding service, labelled by model id.

The HTTP middleware (``api.observability``) already counts every request by route; these
series add what only the serving path knows: how requests were merged into device
batches, how deep each model's queue is, and how the model cache behaves.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

# Batch sizes are counted in images; buckets cover 1 up to the largest sensible batch.
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)
# Request latencies from well under a millisecond (cache hit, tiny model) to seconds.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)

EMBED_REQUESTS = Counter(
    "sslpt_embed_requests_total",
    "Embed requests by outcome: ok, rejected (queue full, 429), error",
    ["model", "outcome"],
)
EMBED_IMAGES = Counter("sslpt_embed_images_total", "Images embedded", ["model"])
EMBED_LATENCY = Histogram(
    "sslpt_embed_request_seconds",
    "Embed request latency from admission to vectors (decode, queue, forward)",
    ["model"],
    buckets=LATENCY_BUCKETS,
)
BATCH_SIZE = Histogram(
    "sslpt_embed_batch_size", "Images per device batch", ["model"], buckets=BATCH_BUCKETS
)
FORWARD_SECONDS = Histogram(
    "sslpt_embed_forward_seconds",
    "Time of one device batch (forward pass and copy back)",
    ["model"],
    buckets=LATENCY_BUCKETS,
)
QUEUE_DEPTH = Gauge(
    "sslpt_embed_queue_depth",
    "Embed requests admitted and not yet answered (decoding, queued or on the device)",
    ["model"],
)
CACHE_EVENTS = Counter(
    "sslpt_model_cache_events_total", "Model cache lookups and evictions", ["model", "event"]
)
CACHE_BYTES = Gauge("sslpt_model_cache_bytes", "Parameter and buffer bytes of the loaded models")
CACHE_MODELS = Gauge("sslpt_model_cache_models", "Models loaded for serving")
