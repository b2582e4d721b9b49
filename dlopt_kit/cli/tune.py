"""``python -m dlopt_kit tune ...``: shared Optuna studies from a terminal.

    tune server start|stop|url   the classroom's PostgreSQL server (instructor); prints the URL to share
    tune server backup|restore PATH   save the class's studies to a file / bring them back from it
    tune server password          give the student login a new password (prints the new URL to share)
    tune create --study NAME      create a shared study (lesson 04's space and objective)
    tune worker --study NAME --trials N [--name NAME]   run trials until the study holds N finished ones
    tune status --study NAME      progress and leaderboard
    tune dashboard --study NAME   optuna-dashboard on the study

The storage URL comes from ``DLOPT_STORAGE`` (``tune server`` prints the line to export); it never appears on a
command line, where it would land in shell history. Every error is one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from dlopt_kit.core import paths

CLASS_DIR = paths.runs_dir() / "class-server"
NAME_WIDTH = 40  # a leaderboard name, as the tuning panel allows


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m dlopt_kit tune", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="action", required=True)
    server = sub.add_parser("server", help="start, stop or show the classroom PostgreSQL server")
    server.add_argument("what", choices=("start", "stop", "url", "backup", "restore", "password"))
    server.add_argument("path", nargs="?", type=Path, help="the backup file (backup and restore only)")
    server.add_argument("--dir", type=Path, default=CLASS_DIR, help="where the server keeps its data")
    server.add_argument("--port", type=int, default=None,
                        help="the port to start on (default: the port it last started on, else 5432)")
    server.add_argument("--subnet", default="auto",
                        help="private network (CIDR) allowed to connect (default: this machine's subnet)")
    server.add_argument("--study", default="class", help="the study to create on start (default: class)")
    for name, helptext in (("create", "create a shared study"), ("worker", "run trials on a shared study"),
                           ("status", "progress and leaderboard of a shared study"),
                           ("dashboard", "open optuna-dashboard on the storage")):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("--study", required=name != "dashboard", default=None)
        if name == "create":
            p.add_argument("--method", default="tpe")
            p.add_argument("--pruner", default="sha")
            p.add_argument("--budget", default="small")
        if name == "worker":
            p.add_argument("--trials", type=int, required=True, help="stop when the study holds this many finished")
            p.add_argument("--name", default="", help="the name shown on the leaderboard")
            p.add_argument("--heartbeat", type=int, default=5, help="seconds between heartbeats")
            p.add_argument("--retry-for", type=float, default=300,
                           help="seconds to wait for a database server that went away before giving up")
        if name == "dashboard":
            p.add_argument("--port", type=int, default=8080)
            p.add_argument("--host", default="127.0.0.1")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from dlopt_kit.classroom.server import PgServerError
    from dlopt_kit.classroom.study import StorageError

    try:
        return ACTIONS[args.action](args)
    except (StorageError, PgServerError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _server(args: argparse.Namespace) -> int:
    from dlopt_kit.classroom.server import PgServer, PgServerError, lan_address, local_subnet
    from dlopt_kit.classroom.study import connect, create_shared

    if (args.path is None) == (args.what in ("backup", "restore")):
        raise ValueError(f"tune server {args.what} {'needs a file: PATH' if args.path is None else 'takes no PATH'}"
                         + (" (e.g. class.dump)" if args.path is None else ""))
    if args.port is not None and not 1 <= args.port <= 65535:
        raise ValueError(f"--port={args.port} is out of range: allowed is 1 to 65535")
    subnet = local_subnet(lan_address()) if args.subnet == "auto" else args.subnet
    server = PgServer(args.dir, port=args.port or 5432, listen="*", subnet=subnet)
    if args.what != "start" and not server.initialised:
        raise PgServerError(f"no server in {server.folder}: start one with: python -m dlopt_kit tune server start")
    if args.port is None and server.started_port:
        server.port = server.started_port
    if args.what == "stop":
        server.stop()
        print(f"server stopped; its data stays in {server.folder} (start it again to go on)")
        return 0
    if args.what == "backup":
        print(f"the class's studies saved to {server.backup(args.path)} (restore with: python -m dlopt_kit tune "
              f"server restore {args.path})")
        return 0
    if args.what == "restore":
        server.restore(args.path)
        print(f"the class's studies restored from {args.path}; workers carry on with them")
        return 0
    if args.what == "start":
        server.start()
        create_shared(connect(server.url("127.0.0.1")), args.study)
        print(f"server running on port {server.port}, open to {server.subnet}; study {args.study!r} ready")
    elif args.what == "password":
        server.reset_password()
        print("the student login has a new password: the old URL no longer works")
    print("share this line with the class (it holds the password; do not post it outside the room):")
    print(f"export DLOPT_STORAGE='{server.url()}'")
    return 0


def _create(args: argparse.Namespace) -> int:
    from dlopt_kit.classroom.study import connect, create_shared, redact, storage_url

    url = storage_url()
    study = create_shared(connect(url), args.study, args.method, args.pruner, args.budget)
    print(f"study {study.study_name!r} ready at {redact(url)}")
    return 0


def _worker(args: argparse.Namespace) -> int:
    from dlopt_kit.classroom.study import BUDGETS, SETTINGS, connect, join, objective_for, redact, storage_url, work
    from dlopt_kit.core.callbacks import StopReason
    from dlopt_kit.core.session import setup
    from dlopt_kit.hyperparameter_tuning.search import STOPPED

    if len(args.name) > NAME_WIDTH or not args.name.isprintable():
        raise ValueError(f"--name={args.name[:NAME_WIDTH + 10]!r} is not allowed: at most {NAME_WIDTH} printable "
                         "characters, on one line")
    url = storage_url()
    study = join(connect(url, heartbeat=args.heartbeat), args.study)
    budget = study.user_attrs[SETTINGS]["budget"]
    session = setup("fashion_mnist", budget=budget)
    stop = threading.Event()

    signals: list[str] = []
    stopped: list[int] = []

    def on_signal(signum: int, _frame: object) -> None:  # the trial running stops at its next batch
        signals.append(signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    print(f"worker joined study {args.study!r} at {redact(url)} ({BUDGETS[budget].name} budget)", flush=True)

    def report(trial: object) -> None:
        if trial.state.name == "COMPLETE":
            reason = str(trial.user_attrs.get("stop_reason", ""))
            why = f" ({reason.split('. ')[0]})" if reason.startswith(StopReason.DIVERGED) else ""
            print(f"trial {trial.number}: complete, val_acc {trial.value:.4f}{why}", flush=True)
        elif trial.user_attrs.get("stop_reason") == STOPPED:  # told once, in the last line
            stopped.append(trial.number)
        else:
            print(f"trial {trial.number}: {trial.state.name.lower()}, {trial.user_attrs.get('stop_reason', '')}",
                  flush=True)

    ran = work(study, objective_for(study, session.data, args.name, stop=stop, device=session.device),
               trials=args.trials, on_trial=report, retry_for=args.retry_for, say=lambda line: print(line, flush=True))
    if signals:
        again = f"trial {stopped[-1]} stopped and queued again for another worker; " if stopped else ""
        print(f"worker stopped by {signals[0]}: {again}ran {ran} trial(s); the study holds {_finished(study)} "
              "finished", flush=True)
    else:
        print(f"worker done: ran {ran} trial(s); the study holds {_finished(study)} finished", flush=True)
    return 0


def _finished(study: object) -> int:
    from dlopt_kit.hyperparameter_tuning.search import finished

    return finished(study)


def _status(args: argparse.Namespace) -> int:
    from dlopt_kit.classroom.study import connect, join, leaderboard, progress, redact, storage_url
    from dlopt_kit.hyperparameter_tuning.search import fail_stale

    url = storage_url()
    study = join(connect(url), args.study)
    fail_stale(study)  # a trial whose worker died is failed (and queued again) here too, not only by a worker
    counts = progress(study)
    print(f"study {args.study!r} at {redact(url)}: " + ", ".join(f"{n} {s}" for s, n in counts.items() if n))
    board = leaderboard(study)
    board["name"] = [n if len(n) <= NAME_WIDTH else n[:NAME_WIDTH - 1] + "…" for n in board["name"]]
    print(board.to_string(index=False, float_format="{:.4g}".format, na_rep="-") if len(board)
          else "no finished trial yet")
    return 0


def _dashboard(args: argparse.Namespace) -> int:
    from optuna_dashboard import run_server

    from dlopt_kit.classroom.study import connect, redact, storage_url

    url = storage_url()
    print(f"optuna-dashboard on http://{args.host}:{args.port} for {redact(url)} (Ctrl-C ends it)", flush=True)
    run_server(connect(url), host=args.host, port=args.port)
    return 0


ACTIONS = {"server": _server, "create": _create, "worker": _worker, "status": _status, "dashboard": _dashboard}
