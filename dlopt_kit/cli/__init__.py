"""The kit's command line, one entry point (``python -m dlopt_kit`` or the console script ``dlopt-kit``).

``doctor`` checks the set-up; ``python -m dlopt_kit prepare`` builds the dataset cache;
``python -m dlopt_kit tune ...`` runs shared Optuna studies (see ``dlopt_kit.cli.tune``); ``python -m dlopt_kit
compare RECIPE...`` compares recipes side by side (see ``dlopt_kit.cli.compare``); ``python -m dlopt_kit claims``
prints every lesson's recorded claims as one table (see ``dlopt_kit.cli.claims``)."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["tune"]:
        from dlopt_kit.cli.tune import main as tune

        return tune(argv[1:])
    if argv[:1] == ["compare"]:
        from dlopt_kit.cli.compare import main as compare

        return compare(argv[1:])
    if argv[:1] == ["claims"]:
        from dlopt_kit.cli.claims import main as claims

        return claims(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m dlopt_kit")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("doctor", help="print versions, device, budget and dataset status")
    sub.add_parser("tune", help="shared Optuna studies: server, create, worker, status, dashboard")
    sub.add_parser("compare", help="compare recipes side by side over seeds: compare RECIPE... [--seeds N] [--out DIR]")
    sub.add_parser("claims", help="every lesson's recorded claims as one table: claims [--budget B] [--write FILE]")
    prep = sub.add_parser("prepare", help="build the dataset cache (datasets/ in a checkout; quick when it is ready)")
    prep.add_argument("--offline", action="store_true", help="never download; fail with advice instead")
    prep.add_argument("--force", action="store_true", help="rebuild even a cache that verifies")
    args = parser.parse_args(argv)
    if args.command == "doctor":
        from dlopt_kit.cli.doctor import main as doctor

        return doctor()
    from dlopt_kit.core.data import STORED, DatasetError, prepare

    try:
        for name in STORED:
            print(f"{name}: {prepare(name, allow_download=not args.offline, force=args.force)}")
    except DatasetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    from dlopt_kit.architectures import prepare_features

    print(f"lesson 03 ImageNet features: {prepare_features()}")
    return 0


__all__ = ["main"]
