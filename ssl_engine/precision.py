"""The names of the precisions a forward pass can run at, without importing torch (request
schemas and settings use them). ``ssl_engine.inference`` says what each one does."""

from __future__ import annotations

from typing import Literal

RequestedPrecision = Literal["auto", "fp32", "bf16"]  # what a setting or a request may ask
Precision = Literal["fp32", "bf16", "fp16"]  # what a forward pass actually ran at
