"""Exports of a trained method's encoder, each file carrying the model card it came with.

* ``safetensors``: the trunk's weights alone (``Method.encoder_module``). For the
  torchvision ResNets the keys are torchvision's own: ``torchvision.models.resnet18()``
  loads them strictly once its ``fc`` is an ``Identity`` (and, for the CIFAR stem of small
  images, its ``conv1``/``maxpool`` are replaced as in ``ssl_engine.backbones``). The
  input normalisation is then the caller's, with the mean/std the card states.
* ``torchscript``: ``embed`` traced and frozen, so only the weights it reads are kept.
* ``onnx``: ``embed`` through the TorchScript-based exporter, with a dynamic batch axis.

The TorchScript and ONNX graphs include the normalisation: they take (B, 3, S, S) RGB in
[0, 1], resized and centre-cropped as ``preprocessing`` says, and return (B, D) float32.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import torch
import torchvision
from safetensors.torch import save_file
from torch import Tensor, nn

from ssl_engine.backbones import Backbone
from ssl_engine.methods.base import IMAGENET_MEAN, IMAGENET_STD, Method

ExportFormat = Literal["safetensors", "torchscript", "onnx"]
EXPORT_FORMATS: tuple[ExportFormat, ...] = ("safetensors", "torchscript", "onnx")
FILE_NAMES: dict[ExportFormat, str] = {
    "safetensors": "model.safetensors",
    "torchscript": "model.pt",
    "onnx": "model.onnx",
}
ONNX_OPSET = 17  # supported by every onnxruntime of the last few years
TRACE_BATCH = 2  # > 1, so no shape is specialised to a single image


class EmbedNet(nn.Module):
    """``method.embed`` as a module's ``forward``, for tracing."""

    def __init__(self, method: Method) -> None:
        super().__init__()
        self.method = method

    def forward(self, images: Tensor) -> Tensor:
        return self.method.embed(images)  # (B, 3, S, S) -> (B, D)


def preprocessing(image_size: int) -> dict[str, Any]:
    """How raw images become model inputs; the serving path does exactly this."""
    return {
        "color": "RGB (grayscale expanded, transparency composited onto white)",
        "resize": f"shorter side to {image_size} px, bilinear with antialiasing",
        "crop": f"centre {image_size}x{image_size}",
        "scale": "uint8 / 255 -> [0, 1]",
        "normalize": {"mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD)},
        "normalize_in_graph": "torchscript and onnx: yes; safetensors: apply it yourself",
    }


def trunk_weights(method: Method) -> dict[str, Tensor]:
    """The encoder's tensors, named as in the plain module they load into (see ``how_to_load``)."""
    encoder = method.encoder_module()
    trunk = encoder.trunk if isinstance(encoder, Backbone) else encoder
    return {k: v.detach().cpu().contiguous() for k, v in trunk.state_dict().items()}


def how_to_load(method: Method, backbone: str, fmt: ExportFormat) -> str:
    """One line of Python that loads the export of ``method`` (built with ``backbone``)."""
    if fmt == "torchscript":
        return "m = torch.jit.load(path); vectors = m(images)  # images: (B, 3, S, S) in [0, 1]"
    if fmt == "onnx":
        return (
            "s = onnxruntime.InferenceSession(path); "
            "vectors = s.run(None, {'images': images})[0]  # float32 (B, 3, S, S) in [0, 1]"
        )
    encoder = method.encoder_module()
    trunk = encoder.trunk if isinstance(encoder, Backbone) else encoder
    if isinstance(trunk, torchvision.models.ResNet):
        stem = ""
        if isinstance(trunk.maxpool, nn.Identity):  # the CIFAR stem of small images
            stem = "m.conv1 = torch.nn.Conv2d(3, 64, 3, 1, 1, bias=False); "
            stem += "m.maxpool = torch.nn.Identity(); "
        return (
            f"m = torchvision.models.{backbone}(); m.fc = torch.nn.Identity(); {stem}"
            "m.load_state_dict(safetensors.torch.load_file(path)); "
            "features = m((images - mean) / std)"
        )
    where = ".trunk" if isinstance(encoder, Backbone) else ""
    return (
        f"build_method({method.name!r}, backbone={backbone!r}, ...).encoder_module(){where}"
        ".load_state_dict(safetensors.torch.load_file(path))  # ssl_engine's own module"
    )


def export_model(
    method: Method, fmt: ExportFormat, path: Path, image_size: int, card: Mapping[str, Any]
) -> None:
    """Write ``method`` (eval mode, on the CPU) to ``path`` in ``fmt`` with ``card`` inside."""
    method = method.cpu().eval()
    card_json = json.dumps(card, sort_keys=True)
    if fmt == "safetensors":
        save_file(trunk_weights(method), str(path), metadata={"model_card": card_json})
    elif fmt == "torchscript":
        _export_torchscript(method, path, image_size, card_json)
    elif fmt == "onnx":
        _export_onnx(method, path, image_size, card_json)
    else:
        raise ValueError(f"unknown export format {fmt!r}; known: {list(EXPORT_FORMATS)}")


def _example(image_size: int) -> Tensor:
    return torch.rand(TRACE_BATCH, 3, image_size, image_size)  # (2, 3, S, S)


def _export_torchscript(method: Method, path: Path, image_size: int, card_json: str) -> None:
    with torch.no_grad():
        traced = torch.jit.trace(EmbedNet(method).eval(), _example(image_size))
        frozen = torch.jit.freeze(traced)  # inlines the weights embed reads, drops the rest
    torch.jit.save(frozen, str(path), _extra_files={"model_card.json": card_json})


def _export_onnx(method: Method, path: Path, image_size: int, card_json: str) -> None:
    import onnx

    # Not under no_grad: there nn.TransformerEncoderLayer takes its fused fast path,
    # an operator ONNX does not have.
    torch.onnx.export(
        EmbedNet(method).eval(),
        (_example(image_size),),
        str(path),
        dynamo=False,  # the torch.export-based exporter needs onnxscript; this one does not
        opset_version=ONNX_OPSET,
        input_names=["images"],
        output_names=["embeddings"],
        dynamic_axes={"images": {0: "batch"}, "embeddings": {0: "batch"}},
    )
    graph = onnx.load(str(path))
    entry = graph.metadata_props.add()
    entry.key, entry.value = "model_card", card_json
    onnx.save(graph, str(path))
