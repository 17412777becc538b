"""``ervlight data …``: the dataset tools, one row per subcommand."""

from __future__ import annotations

from ervlight.cli import Command, dispatch

__all__ = ["DATA_COMMANDS", "main"]

DATA_COMMANDS: dict[str, Command] = {
    "inspect": Command(
        "count clips per split and class, list missing/unreadable clips", "ervlight.data.inspect:main"
    ),
    "export-r1omni": Command("write a split as R1-Omni JSON", "ervlight.data.export:main"),
    "make-demo": Command("generate the synthetic demo corpus (MAFW/DFEW layouts)", "ervlight.demo.cli:main"),
}


def main(argv: list[str]) -> int:
    """Dispatch ``ervlight data <command>``."""
    return dispatch("ervlight data", DATA_COMMANDS, argv)
