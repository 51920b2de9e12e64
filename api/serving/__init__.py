"""Serving trained models: model cache, dynamic batching, request inputs, exports, search."""
