"""The ``ervlight`` command line: one entry point, one dispatch table.

``ervlight fit|validate|test|predict --config FILE`` goes to LightningCLI in subclass mode: the YAML names the
LightningModule and the LightningDataModule by ``class_path``. Every other subcommand (``ervlight labels``, and the
``data``, ``verifier``, ``report`` and ``demo`` commands as they land) is one row of :data:`COMMANDS`: a help line
and the ``module:function`` that receives the remaining arguments. Modules are imported only when their command
runs, so ``ervlight --help`` stays fast.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ervlight import __version__

__all__ = ["COMMANDS", "LIGHTNING_SUBCOMMANDS", "Command", "dispatch", "main", "run_lightning"]

LIGHTNING_SUBCOMMANDS: dict[str, str] = {
    "fit": "train a module (--config FILE; add --ckpt_path to resume)",
    "validate": "run the validation loop once",
    "test": "run the test loop once",
    "predict": "run prediction",
}


@dataclass(frozen=True)
class Command:
    """A non-Lightning subcommand: a one-line help and the ``module:function`` that runs it.

    The function takes the arguments after the subcommand name (``list[str]``) and returns an exit code.
    """

    help: str
    entry: str

    def load(self) -> Callable[[list[str]], int]:
        """Import the command's function."""
        module_name, _, function_name = self.entry.partition(":")
        function: Callable[[list[str]], int] = getattr(importlib.import_module(module_name), function_name)
        return function


#: The one dispatch point for subcommands beyond fit/validate/test/predict. Add a row per command.
COMMANDS: dict[str, Command] = {
    "labels": Command("show a label space: labels, official ids, accepted words", "ervlight.labels_cli:main"),
    "data": Command("dataset tools: inspect, export-r1omni, make-demo", "ervlight.data.cli:main"),
    "verifier": Command("score rationales offline with a trained verifier", "ervlight.verifier.cli:main"),
    "report": Command(
        "judge test predictions and write a consistency report", "ervlight.evaluation.report_cli:main"
    ),
    "rate": Command(
        "rate rationales in the browser (blind, resumable); `rate export` writes the ratings CSV",
        "ervlight.rating.cli:main",
    ),
    "humanomni": Command(
        "HumanOmni checkpoints: keys (header check), compare-encoders", "ervlight.policy.humanomni.cli:main"
    ),
    "plan": Command("per-GPU memory of a config and the strategy that fits", "ervlight.scale.plan_cli:main"),
    "export": Command(
        "export a policy: merged LoRA, or a full Qwen2.5-Omni folder", "ervlight.scale.export_cli:main"
    ),
    "demo": Command(
        "the end-to-end demo: corpus, SFT, verifier, GRPO baseline vs ERV, report",
        "ervlight.pipeline.demo:main",
    ),
}


def dispatch(prog: str, commands: dict[str, Command], argv: Sequence[str]) -> int:
    """Run a command group (``ervlight data …``): look up ``argv[0]`` in ``commands`` and pass it the rest."""
    argv = list(argv)
    width = max(len(name) for name in commands)
    usage = "\n".join(
        [f"usage: {prog} <command> [options]", "", "commands:"]
        + [f"  {name.ljust(width)}  {command.help}" for name, command in commands.items()]
    )
    if not argv or argv[0] in ("-h", "--help"):
        print(usage)
        return 0 if argv else 2
    if argv[0] not in commands:
        print(f"{prog}: unknown command {argv[0]!r}\n\n{usage}", file=sys.stderr)
        return 2
    return commands[argv[0]].load()(argv[1:])


def _overview() -> str:
    """The text of ``ervlight --help``."""
    rows = [*LIGHTNING_SUBCOMMANDS.items(), *((name, c.help) for name, c in COMMANDS.items())]
    width = max(len(name) for name, _ in rows)
    lines = [
        f"ervlight {__version__} — emotion-coherent reasoning for multimodal LLMs",
        "",
        "usage: ervlight <command> [options]      (ervlight <command> --help for its options)",
        "",
        "commands:",
        *(f"  {name.ljust(width)}  {text}" for name, text in rows),
        "",
        "examples:",
        "  ervlight fit --config configs/verifier/demo.yaml",
        "  ervlight fit --print_config --config configs/verifier/demo.yaml",
        "  ervlight labels mafw",
    ]
    return "\n".join(lines)


def run_lightning(args: Sequence[str] | None = None) -> None:
    """Run LightningCLI in subclass mode with ervlight's defaults on ``args`` (default: ``sys.argv[1:]``)."""
    # jsonargparse's notices about its own API are for Lightning's maintainers, not for ervlight users.
    os.environ.setdefault("JSONARGPARSE_DEPRECATION_WARNINGS", "off")
    from lightning.pytorch import LightningDataModule
    from lightning.pytorch.cli import LightningCLI

    from ervlight.tasks.base import BaseModule

    LightningCLI(
        model_class=BaseModule,
        datamodule_class=LightningDataModule,
        subclass_mode_model=True,
        subclass_mode_data=True,
        seed_everything_default=0,
        save_config_kwargs={"overwrite": True},
        auto_configure_optimizers=False,
        args=None if args is None else list(args),
    )


def _cause(error: BaseException, kind: type[Exception]) -> BaseException | None:
    """``error`` or the first exception of its cause/context chain that is a ``kind`` (jsonargparse wraps them)."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, kind):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def main(args: Sequence[str] | None = None) -> int:
    """Entry point of ``ervlight`` and ``python -m ervlight``; returns the exit code."""
    argv = list(sys.argv[1:] if args is None else args)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(_overview())
        return 0 if argv else 2
    if argv[0] in ("-V", "--version"):
        print(f"ervlight {__version__}")
        return 0
    name, rest = argv[0], argv[1:]
    if name in COMMANDS:
        return COMMANDS[name].load()(rest)
    if name in LIGHTNING_SUBCOMMANDS:
        from ervlight.data.errors import DataError

        try:
            run_lightning(None if args is None else argv)
        except Exception as error:  # a data tree, list or kind the user named: one line, no traceback
            cause = _cause(error, DataError)
            if cause is None:
                raise
            print(f"ervlight {name}: {cause}", file=sys.stderr)
            return 2
        return 0
    print(f"ervlight: unknown command {name!r}\n\n{_overview()}", file=sys.stderr)
    return 2
