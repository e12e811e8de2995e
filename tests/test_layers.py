"""The dependency direction of STYLE.md: ocpp/ and domain/ import nothing of the rest, and do
no I/O; csms/ uses ocpp, domain and store; server/, simulator/ and cli sit on top."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "chargedeck"

# layer -> the chargedeck packages it may import
ALLOWED: dict[str, set[str]] = {
    "ocpp": {"ocpp"},
    "domain": {"domain"},
    "store": {"store", "domain"},
    "csms": {"csms", "ocpp", "domain", "store", "clock", "config"},
}
# STYLE rule 1: the core does no I/O and reads no clock.
IO_MODULES = {
    "asyncio",
    "socket",
    "ssl",
    "websockets",
    "sqlalchemy",
    "aiosqlite",
    "asyncpg",
    "time",
}


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def modules_of(layer: str) -> list[Path]:
    return sorted((PACKAGE / layer).rglob("*.py"))


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_a_layer_imports_only_the_layers_below_it(layer: str) -> None:
    offending = []
    for path in modules_of(layer):
        for name in imports_of(path):
            parts = name.split(".")
            if parts[0] == "chargedeck" and len(parts) > 1 and parts[1] not in ALLOWED[layer]:
                offending.append(f"{path.relative_to(PACKAGE)} imports {name}")
    assert offending == []


@pytest.mark.parametrize("layer", ["ocpp", "domain"])
def test_the_core_does_no_io_and_reads_no_clock(layer: str) -> None:
    offending = []
    for path in modules_of(layer):
        text = path.read_text(encoding="utf-8")
        for name in imports_of(path):
            if name.split(".")[0] in IO_MODULES:
                offending.append(f"{path.relative_to(PACKAGE)} imports {name}")
        for call in ("datetime.now(", "datetime.utcnow(", "time.time("):
            if call in text:
                offending.append(f"{path.relative_to(PACKAGE)} calls {call}")
    assert offending == []
