"""``python -m symgrad.run CONFIG.yaml [--set key=value ...] [--out DIR]``: the main job."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .errors import SymgradError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m symgrad.run",
                                     description="Train (or load) a classifier and find closed-form formulas for a neuron.")
    parser.add_argument("config", help="YAML configuration file (see experiments/paper/*.yaml)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config value, e.g. --set train.epochs=20 (repeatable)")
    parser.add_argument("--out", default=None, help="run directory to write (must not exist unless --overwrite)")
    parser.add_argument("--model", default=None, help="reuse a saved model.npz instead of training")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing run directory")
    parser.add_argument("--quiet", action="store_true", help="no progress messages")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        from .config import load_config
        from .pipeline import interpret
        from .summary import print_summary

        config = load_config(args.config, args.overrides)
        run = interpret(config, out=args.out, model_path=args.model, overwrite=args.overwrite or None,
                        progress=None if args.quiet else _progress, config_name=Path(args.config).stem)
    except SymgradError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    print_summary(run)
    return 0


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
