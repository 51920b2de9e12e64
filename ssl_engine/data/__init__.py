"""Image folders in, device batches out.

``scan`` (find images, labels, broken files) -> ``cache`` (decode once into a uint8
array on disk) -> ``loader`` (shuffled, resumable batches on the training device);
``formats`` holds the decoding that both the cache and model serving use.

Nothing is imported here on purpose: ``scan`` and ``formats`` do not load torch, so the
API can register datasets without paying for it.
"""
