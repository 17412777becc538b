"""``ervlight report``: judge the predictions ``ervlight test`` wrote and write a report folder; compare reports.

Judges (``--judge``, repeatable; the first gives EEA/EPC/FCR, the others are compared with it):

* a folder: a trained verifier (:class:`~ervlight.verifier.judge.VerifierJudge`), named after the folder;
* ``NAME=FOLDER``: the same with a name;
* a ``.yaml``/``.json`` file holding ``class_path``/``init_args`` of any :class:`~ervlight.evaluation.judge.Judge`,
  for example :class:`~ervlight.evaluation.llm_judge.LLMJudge` (key from an environment variable).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ervlight.evaluation.judge import Judge
from ervlight.evaluation.llm_judge import LLMJudgeError
from ervlight.evaluation.plots import FIGURE_FORMATS
from ervlight.evaluation.report_reference import REPORT_PROTOCOLS
from ervlight.jsonl import read_utf8

if TYPE_CHECKING:
    from ervlight.evaluation.predictions import PredictionRecord

__all__ = ["build_parser", "load_judge", "main"]


def load_judge(spec: str) -> Judge:
    """A judge from a ``--judge`` value (see the module docstring); ``ValueError`` names a bad value."""
    name, _, target = spec.rpartition("=") if "=" in spec else ("", "", spec)
    path = Path(target)
    if path.is_dir():
        from ervlight.verifier.judge import VerifierJudge

        return VerifierJudge(str(path), name=name or path.name)
    if path.is_file() and path.suffix in (".yaml", ".yml", ".json"):
        from jsonargparse import ArgumentParser

        parser = ArgumentParser()
        parser.add_argument("--judge", type=Judge)
        judge: Judge = parser.instantiate(parser.parse_args(["--judge", read_utf8(path)])).judge
        if name:
            judge.name = name
        return judge
    raise ValueError(f"--judge {spec!r}: expected a verifier folder, NAME=FOLDER, or a judge YAML/JSON file")


def build_parser() -> argparse.ArgumentParser:
    """The command's argument parser."""
    parser = argparse.ArgumentParser(
        prog="ervlight report",
        description="Judge test predictions (JSONL from `ervlight test` with the PredictionWriter callback) and write "
        "metrics.json, report.md, PNG (and PDF/SVG) figures, predictions.csv and TensorBoard logs. Several files = "
        "several folds/datasets (mean ± std over folds). With --compare, print a table of existing report folders.",
    )
    parser.add_argument("--predictions", nargs="+", default=[], help="prediction JSONL file(s)")
    parser.add_argument(
        "--judge", action="append", default=[], help="verifier folder, NAME=FOLDER or judge YAML"
    )
    parser.add_argument("--out", help="report folder to write")
    parser.add_argument("--name", default=None, help="run name in the report (default: the folder name)")
    parser.add_argument("--sentence-verifier", default=None,
                        help="verifier folder for the per-sentence labels of predictions.csv (default: the first "
                        "judge's verifier)")  # fmt: skip
    parser.add_argument("--ratings", nargs="+", default=[], metavar="FILE",
                        help="human ratings (ratings.jsonl of `ervlight rate`): adds human EEA/EPC/FCR, inter-rater "
                        "agreement and each judge's agreement with the human majority")  # fmt: skip
    parser.add_argument("--no-tensorboard", action="store_true", help="do not write tensorboard/")
    parser.add_argument("--max-judge-failures", type=float, default=0.0, metavar="SHARE",
                        help="share of distinct rationales an LLM judge may fail to judge (after its retries) before "
                        "the command exits 1; the report is written either way, failures unjudged (0)")  # fmt: skip
    parser.add_argument("--figure-format", nargs="+", default=["png"], choices=FIGURE_FORMATS, metavar="FORMAT",
                        help="figure files to write (PNG always): png pdf svg")  # fmt: skip
    parser.add_argument("--protocol", default="ervlight", choices=REPORT_PROTOCOLS,
                        help="how answers and judged rationales are counted: ervlight (default), reference (the "
                        "reference evaluation scripts' rules; DFEW and MAFW only) or both side by side")  # fmt: skip
    parser.add_argument("--compare", nargs="+", default=[], metavar="FOLDER",
                        help="print a comparison table of report folders (NAME=FOLDER to rename) and exit")  # fmt: skip
    return parser


def _compare(folders: list[str]) -> int:
    """Print a comparison table of report folders."""
    from ervlight.evaluation.report import comparison_table, load_metrics

    runs, paths = {}, {}
    for spec in folders:
        name, _, folder = spec.rpartition("=") if "=" in spec else ("", "", spec)
        content = load_metrics(folder)
        runs[name or content["name"]] = content
        paths[name or content["name"]] = folder
    print(comparison_table(runs))
    _paired(paths)
    return 0


def _paired(paths: dict[str, str]) -> None:
    """Each later report against the first: paired bootstrap intervals when both judged the same clips."""
    from ervlight.evaluation.clip_outcomes import read_clip_outcomes, same_clips
    from ervlight.evaluation.paired import paired_bootstrap, paired_table

    names = list(paths)
    if len(names) < 2 or not all((Path(p) / "predictions.csv").is_file() for p in paths.values()):
        return
    first = read_clip_outcomes(paths[names[0]])
    for name in names[1:]:
        other = read_clip_outcomes(paths[name])
        if not same_clips(first, other):
            print(f"\n{name} and {names[0]} judged different clips: no paired intervals")
            continue
        print(f"\n{name} − {names[0]}, points, 95 % paired bootstrap interval over clips (first judge):\n")
        print(paired_table(paired_bootstrap(first, other), names[0], name))


def main(argv: list[str]) -> int:
    """Run ``ervlight report``; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.compare:
            return _compare(args.compare)
        if not args.predictions or not args.judge or not args.out:
            parser.error("--predictions, --judge and --out are needed (or --compare)")
        from ervlight.evaluation.predictions import read_predictions
        from ervlight.evaluation.report import build_report, comparison_table
        from ervlight.rating.store import read_ratings
        from ervlight.verifier.scorer import VerifierScorer

        records = read_predictions(args.predictions)
        judges = [load_judge(spec) for spec in args.judge]
        sentence = VerifierScorer.from_pretrained(args.sentence_verifier) if args.sentence_verifier else None
        ratings = read_ratings(args.ratings) if args.ratings else None
        report = build_report(records, judges, args.out, args.name or Path(args.out).name, sentence,
                              tensorboard=not args.no_tensorboard, ratings=ratings,
                              figure_formats=args.figure_format, protocol=args.protocol)  # fmt: skip
    except (FileNotFoundError, ValueError, LLMJudgeError) as error:
        print(f"ervlight report: {error}", file=sys.stderr)
        return 2
    content = report.to_dict()
    runs = {report.name if report.protocol != "both" else f"{report.name} (ervlight)": content}
    if report.protocol == "both":
        runs[f"{report.name} (reference)"] = content["reference"]
    print(f"protocol: {report.protocol}")
    print(comparison_table(runs))
    print(f"report written to {args.out} (report.md, metrics.json, predictions.csv, *.png, tensorboard/)")
    return _judge_failures(judges, records, args.max_judge_failures)


def _judge_failures(judges: list[Judge], records: list[PredictionRecord], allowed: float) -> int:
    """1 (with one line per judge) when an LLM judge failed on more than ``allowed`` of the distinct rationales."""
    from ervlight.evaluation.llm_judge import LLMJudge

    distinct = max(1, len({(r.dataset, r.completion) for r in records}))
    code = 0
    for judge in judges:
        failed = judge.failed_rationales() if isinstance(judge, LLMJudge) else 0
        if failed / distinct > allowed:
            print(f"ervlight report: judge {judge.name!r} could not judge {failed} of {distinct} rationales (its "
                  f"endpoint failed after every retry); they are counted as unjudged (predictions.csv: 'failed'). "
                  f"Allow a share with --max-judge-failures", file=sys.stderr)  # fmt: skip
            code = 1
    return code
