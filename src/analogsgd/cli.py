"""The ``analogsgd`` command line.

    analogsgd list
    analogsgd config NAME [--quick] [--set FIELD=VALUE ...]
    analogsgd run NAME [--quick] [--seed N] [--out DIR] [--set FIELD=VALUE ...] [--config FILE.toml]
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Sequence

from . import __version__
from .config import Config, parse_value, replace_fields
from .errors import AnalogSGDError, ConfigError


def _overrides(args: argparse.Namespace) -> dict:
    changes: dict = {}
    if getattr(args, "config_file", None):
        import tomllib

        path = Path(args.config_file)
        if not path.is_file():
            raise ConfigError("--config", str(path), "an existing TOML file")
        with path.open("rb") as fh:
            changes.update(_flatten(tomllib.load(fh)))
    for item in getattr(args, "set", None) or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError("--set", item, "of the form FIELD=VALUE, e.g. --set alphas=0.1,0.05")
        changes[key.strip()] = parse_value(value)
    return changes


def _flatten(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


def _resolve(args: argparse.Namespace):
    from .experiments import get_experiment

    exp = get_experiment(args.name)
    config = exp.config(quick=args.quick)
    changes = _overrides(args)
    if changes:
        config = replace_fields(config, changes)
    return exp, config


def _cmd_list(args: argparse.Namespace) -> int:
    from .experiments import all_experiments

    exps = all_experiments()
    width = max(len(n) for n in exps) if exps else 0
    for name, exp in exps.items():
        print(f"{name:<{width}}  {exp.description}")
    return 0


def _cmd_config(args: argparse.Namespace) -> int:
    _, config = _resolve(args)
    print(json.dumps(config.to_dict() if isinstance(config, Config) else config, indent=2))
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from .experiments import RunContext
    from .progress import TqdmProgress
    from .runfolder import RunFolder

    exp, config = _resolve(args)  # every check happens here, before any work
    if args.seed < 0:
        raise ConfigError("--seed", args.seed, "an integer >= 0")
    import torch

    torch.set_num_threads(args.threads)
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    out = Path(args.out) if args.out else Path("runs") / f"{exp.name}{'-quick' if args.quick else ''}-{stamp}"
    folder = RunFolder(out)
    folder.write_config({
        "experiment": exp.name,
        "quick": args.quick,
        "seed": args.seed,
        "config": config.to_dict() if isinstance(config, Config) else config,
        "analogsgd_version": __version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "threads": args.threads,
        "command": " ".join(sys.argv),
        "references": list(exp.references),
    })
    print(f"{exp.name}: writing to {out}", file=sys.stderr)
    start = time.perf_counter()
    ctx = RunContext(seed=args.seed, out=folder, quick=args.quick,
                     progress=TqdmProgress(enabled=not args.no_progress))
    metrics = exp.run(config, ctx)
    metrics = {**metrics, "wall_time_s": round(time.perf_counter() - start, 3)}
    folder.write_metrics(metrics)
    print(json.dumps(metrics["summary"], indent=2, default=str))
    print(f"done in {metrics['wall_time_s']:.1f} s: {out}", file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="analogsgd", description=__doc__.split("\n")[0] or None)
    parser.add_argument("--version", action="version", version=f"analogsgd {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="list the experiments").set_defaults(func=_cmd_list)

    def with_config_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("name", help="experiment name (see `analogsgd list`)")
        p.add_argument("--quick", action="store_true", help="the reduced version (minutes on 2 CPU cores)")
        p.add_argument("--set", action="append", metavar="FIELD=VALUE",
                       help="override a config field (dotted path; lists comma separated)")
        p.add_argument("--config", dest="config_file", metavar="FILE",
                       help="TOML file of config overrides")

    p_cfg = sub.add_parser("config", help="print an experiment's resolved config")
    with_config_args(p_cfg)
    p_cfg.set_defaults(func=_cmd_config)

    p_run = sub.add_parser("run", help="run an experiment into a run folder")
    with_config_args(p_run)
    p_run.add_argument("--seed", type=int, default=0, help="run seed (default 0)")
    p_run.add_argument("--out", help="run folder (default runs/NAME-TIMESTAMP)")
    p_run.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    p_run.add_argument("--no-progress", action="store_true", help="no progress bars")
    p_run.set_defaults(func=_cmd_run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    os.environ.setdefault("MPLBACKEND", "Agg")
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ConfigError as err:
        print(f"analogsgd: error: {err}", file=sys.stderr)
        return 2
    except AnalogSGDError as err:
        print(f"analogsgd: error: {err}", file=sys.stderr)
        return 3


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
