"""The agent's side of updates: staging the release an ``update`` command names, and the trial of
the release running now (docs/agent.md, "Updates"; the releases on disk: edge_agent/update.py).

A staged release is started by the launcher on the next start, on trial: it is kept once it has
stayed connected to the broker for ``confirm_s``, and it exits after ``trial_s`` otherwise, to be
started again and rolled back after three starts. The update command's receipt comes from the
trial's outcome, reported by the release that runs after it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from edge_agent import __version__
from edge_agent.fetch import FetchError, MediaFetcher
from edge_agent.link import MqttLink
from edge_agent.media import MediaCache
from edge_agent.outbox import Outbox
from edge_agent.update import Releases, UpdateError
from playlists.wire import Command, MediaRef, UpdateArgs

log = logging.getLogger(__name__)

UPDATE_CONFIRM_S = 60.0  # a release on trial is kept once connected to the broker this long
UPDATE_TRIAL_S = 600.0  # and gives up (exits, to be started again or rolled back) after this long
WHEEL = "application/zip"

CommandDone = Callable[..., None]  # Agent._command_done(command, failed=None)


class Updates:
    """Stages releases and judges the trial of the one running (``releases`` None: no updates)."""

    def __init__(
        self,
        releases: Releases | None,
        *,
        fetcher: MediaFetcher,
        cache: MediaCache,
        outbox: Outbox,
        link: MqttLink,
        restart_requested: threading.Event,
        command_done: CommandDone,
        confirm_s: float = UPDATE_CONFIRM_S,
        trial_s: float = UPDATE_TRIAL_S,
    ) -> None:
        self.releases = releases
        self._fetcher, self._cache, self._outbox, self._link = fetcher, cache, outbox, link
        self._restart_requested = restart_requested
        self._command_done = command_done
        self._confirm_s, self._trial_s = confirm_s, trial_s
        self.on_trial = releases is not None and releases.on_trial(__version__)
        self._connected_since: float | None = None
        self._busy = threading.Lock()

    def start(self, command: Command, args: UpdateArgs) -> None:
        """An ``update`` command: stage its release in a thread of its own, or say why not."""
        if args.version == __version__:
            self._command_done(command)  # already running it
        elif self.releases is None:
            self._command_done(command, failed="update_failed:unsupported")
        elif not self._busy.acquire(blocking=False):
            self._command_done(command, failed="update_failed:busy")
        else:
            threading.Thread(target=self._update, args=(command, args), daemon=True).start()

    def _update(self, command: Command, args: UpdateArgs) -> None:
        """Fetch, check and stage the release, then restart into it (its trial decides the receipt)."""
        assert self.releases is not None
        try:
            ref = MediaRef(sha256=args.sha256, url=args.url, bytes=args.bytes, duration_ms=0, mime=WHEEL)
            wheel = self._fetcher.fetch(ref)
            self.releases.stage(wheel, version=args.version, command_id=command.id)
        except FetchError as exc:
            self._command_done(command, failed=f"update_failed:fetch_{exc.code}")
        except UpdateError as exc:
            log.error("update to %s refused: %s", args.version, exc)
            self._command_done(command, failed=f"update_failed:{exc.code}")
        except Exception as exc:
            log.exception("update to %s failed", args.version)
            self._command_done(command, failed=f"update_failed:{type(exc).__name__}")
        else:
            # Its receipt comes from the trial's outcome, not from the restart (which would say failed).
            self._outbox.settle_command(command.id)
            self._restart_requested.set()
            return
        finally:
            self._cache.path(args.sha256).unlink(missing_ok=True)  # unpacked now, or refused
        self._busy.release()

    def trial_failed(self, running_s: float) -> bool:
        """This release is on trial and did not prove itself within ``trial_s`` of starting."""
        return self.on_trial and running_s > self._trial_s

    def judge_trial(self, now: float) -> None:
        """Keep this release once it has stayed connected for a while (called about once a second)."""
        if not self.on_trial:
            return
        if not self._link.connected:
            self._connected_since = None
            return
        if self._connected_since is None:
            self._connected_since = now
        elif now - self._connected_since >= self._confirm_s and self.releases is not None:
            self.on_trial = False
            if self.releases.confirm(__version__):
                self.report_outcome()

    def report_outcome(self) -> None:
        """The receipt of the update command that ended: kept, or rolled back by the launcher."""
        outcome = self.releases.outcome() if self.releases is not None else None
        if outcome is None or self.releases is None:
            return
        failed = None if outcome.ok else f"update_rolled_back:{outcome.version}"
        self._outbox.append(
            event="failed" if failed else "command_done", command_id=outcome.command_id, reason=failed
        )
        self.releases.clear_outcome()  # after the receipt: a crash in between reports it twice, never zero
