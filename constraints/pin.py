"""Print the exact versions installed here of ervlight's requirements (setup.cfg, with extras) and theirs, pinned.

``python constraints/pin.py dev > constraints/tested.txt`` from a venv made by ``make install`` refreshes the
tested set (the header lines are kept by hand).
"""

from __future__ import annotations

import configparser
import sys
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name


def top_level(extras: set[str]) -> list[Requirement]:
    """The requirements setup.cfg declares for ``extras`` (self-references expanded)."""
    config = configparser.ConfigParser()
    config.read(Path(__file__).resolve().parent.parent / "setup.cfg")
    optional = config["options.extras_require"]
    lines = config["options"]["install_requires"].split("\n")
    todo, done = list(extras), set()
    while todo:
        extra = todo.pop()
        if extra in done:
            continue
        done.add(extra)
        for text in optional[extra].split("\n"):
            req = Requirement(text) if text.strip() else None
            if req is not None and canonicalize_name(req.name) == "ervlight":
                todo.extend(req.extras)
            elif req is not None:
                lines.append(text)
    return [Requirement(line) for line in lines if line.strip()]


def closure(roots: list[Requirement]) -> dict[str, str]:
    """``{name: installed version}`` of the roots and everything they need in this environment."""
    pinned: dict[str, str] = {}
    todo = [(req.name, set(req.extras)) for req in roots]
    while todo:
        name, extras = todo.pop()
        key = canonicalize_name(name)
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        if key in pinned and not extras:
            continue
        pinned[key] = dist.version
        for text in dist.requires or []:
            req = Requirement(text)
            markers = [{"extra": extra} for extra in extras | {""}]
            if req.marker is None or any(req.marker.evaluate(m) for m in markers):
                todo.append((req.name, set(req.extras)))
    return pinned


if __name__ == "__main__":
    extras = set(sys.argv[1].split(",")) if len(sys.argv) > 1 else set()
    for name, version in sorted(closure(top_level(extras)).items()):
        print(f"{name}=={version}")
