"""No code path unpickles a file: weights are safetensors, other torch files weights-only.

A source check, because the property is about every call site, including ones added later:
``torch.load`` must pass ``weights_only=True``; ``pickle``, ``torch.jit.load`` and
``numpy.load(allow_pickle=True)`` must not appear in the service's packages at all.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("api", "worker", "ssl_engine")


def calls(tree: ast.AST) -> list[ast.Call]:
    return [node for node in ast.walk(tree) if isinstance(node, ast.Call)]


def dotted(node: ast.expr) -> str:
    if isinstance(node, ast.Attribute):
        return f"{dotted(node.value)}.{node.attr}"
    return node.id if isinstance(node, ast.Name) else ""


def keyword(call: ast.Call, name: str) -> object:
    for kw in call.keywords:
        if kw.arg == name and isinstance(kw.value, ast.Constant):
            return kw.value.value
    return None


def findings(root: Path = ROOT, packages: tuple[str, ...] = PACKAGES) -> list[str]:
    found = []
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            tree = ast.parse(path.read_text(), filename=str(path))
            where = f"{path.relative_to(root)}"
            for node in ast.walk(tree):
                if isinstance(node, ast.Import | ast.ImportFrom):
                    names = [a.name for a in node.names] + [getattr(node, "module", "") or ""]
                    if any(n.split(".")[0] in ("pickle", "dill", "cloudpickle") for n in names):
                        found.append(f"{where}:{node.lineno} imports a pickle module")
            for call in calls(tree):
                name = dotted(call.func)
                if name.endswith("torch.load") and keyword(call, "weights_only") is not True:
                    found.append(f"{where}:{call.lineno} torch.load without weights_only=True")
                if name.endswith("jit.load"):
                    found.append(f"{where}:{call.lineno} torch.jit.load")
                if name.endswith("np.load") and keyword(call, "allow_pickle") is True:
                    found.append(f"{where}:{call.lineno} np.load(allow_pickle=True)")
    return found


def test_no_code_path_unpickles_a_file() -> None:
    assert findings() == []


def test_the_check_catches_unsafe_loads(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "bad.py").write_text(
        "import pickle\nimport torch\n"
        "a = torch.load('x.pt')\n"
        "b = torch.load('x.pt', weights_only=False)\n"
        "c = torch.load('x.pt', weights_only=True)\n"
        "d = torch.jit.load('m.pt')\n"
    )
    assert [f.split(" ", 1)[0] for f in findings(tmp_path, ("pkg",))] == [
        "pkg/bad.py:1",
        "pkg/bad.py:3",
        "pkg/bad.py:4",
        "pkg/bad.py:6",
    ]
