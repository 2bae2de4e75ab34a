"""What systemd starts on a box: picks the agent release to run, then becomes it.

    python -m edge_agent.launcher --config /etc/loa/agent.toml [agent options]

It reads ``data_dir`` from the config and asks ``update.json`` (edge_agent/update.py) which release
runs: the installed package, or a release unpacked under ``<data_dir>/releases/``. Each start of a
release on trial is counted there, and after too many the previous release comes back. Then it
``exec``s ``python -m edge_agent`` with that release first on the path: the same process, so systemd's
``Type=notify`` and watchdog see the agent itself. It never imports the release it starts, so a broken
release cannot break the way back.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tomllib
from pathlib import Path

from edge_agent.update import Releases

log = logging.getLogger("edge_agent.launcher")


def data_dir_of(config_path: Path) -> Path | None:
    """``data_dir`` from the agent's config (relative to the file), without the full config check:
    a newer release may know keys this launcher does not."""
    try:
        with config_path.open("rb") as handle:
            value = tomllib.load(handle).get("data_dir")
    except (OSError, tomllib.TOMLDecodeError) as exc:
        log.error("cannot read %s: %s", config_path, exc)
        return None
    if not isinstance(value, str) or not value:
        return None
    path = Path(value)
    return path if path.is_absolute() else (config_path.parent / path)


def main(argv: list[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="python -m edge_agent.launcher", add_help=False)
    parser.add_argument("--config", required=True, type=Path)
    known, _rest = parser.parse_known_args(arguments)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    data_dir = data_dir_of(known.config)
    release = Releases(data_dir).launch() if data_dir is not None else None
    env = dict(os.environ)
    if release is not None:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(release), env.get("PYTHONPATH", "")) if p)
        log.info("starting release %s", release.name)
    # -P: the working folder does not go first on the path (where systemd starts us it is "/" anyway).
    os.execve(sys.executable, [sys.executable, "-P", "-m", "edge_agent", *arguments], env)
    return 1  # not reached


if __name__ == "__main__":
    raise SystemExit(main())
