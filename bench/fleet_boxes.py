"""One process of simulated boxes for bench/fleet.py: the real agent, thousands of boxes per process.

Each box is the real agent built from the agent.toml its enrolment wrote (bench/fleet_agent.py).
One ``selectors`` loop serves every box of the process: sockets, player steps at their instants,
the agent's tick each second.

    python bench/fleet_boxes.py --root DIR [--status-every-s 60] [--offsets-ms 0] [--sink null|file]

Driven by JSON lines on stdin, answered on stdout (logs go to stderr):

* ``{"cmd": "add", "first": i, "count": n}``: build and connect boxes i…i+n-1 (``DIR/boxes/<id>``);
  ``{"event": "ready", …}`` once all of them are online;
* ``{"cmd": "mark"}``: counts so far, CPU seconds, and receipt→ack latencies since the last mark;
* ``{"cmd": "events", "kind": K}``: the recorded events of kind ``arrival``, ``first_sample`` or
  ``timeline`` (and forget them);
* ``{"cmd": "receipts", "per_s": R}`` (open loop, random online boxes) or ``{"cmd": "receipts",
  "window": K, "boxes": M}`` (M boxes keep K receipts awaiting their ack); ``per_s`` 0 stops;
* ``{"cmd": "offline", "boxes": [ids], "hours": H}``: cut those boxes from the broker and let H
  hours of simulated time pass for each (bench/faults_offline.py); ``{"cmd": "online", "boxes":
  [ids]}`` lets them reconnect; ``{"cmd": "rejections"}``: each box's count of refused documents;
* ``{"cmd": "stop"}`` or end of input: every agent stops as ``loa agent`` does, then exit.

A message whose payload starts with ``FLOOR`` (bench/fleet.py's bare fan-out) is noted as an
``arrival`` of kind ``floor`` and never reaches the agent.
"""

from __future__ import annotations

import argparse
import faulthandler
import heapq
import json
import logging
import os
import random
import resource
import sys
import time
from collections import deque
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from fleet_agent import Box, build_box  # noqa: E402
from fleet_link import LoopLink  # noqa: E402
from fleet_parts import NotYet  # noqa: E402

log = logging.getLogger("fleet.boxes")
FLOOR = b"FLOOR"
LONGEST_SLEEP_S = 60.0  # a box with nothing due is still stepped now and then
BUILD_PER_TURN = 25  # boxes built per loop turn, so the loop keeps serving the ones online
POLL_EVERY_S = 0.005  # while handing messages to boxes, read the sockets again this often
STUCK_S = 30.0
# The most each kind of work takes of one turn of the loop: messages first (an emergency waits on
# them), then the players' due steps, then the agents' ticks; sockets are read in between.
DISPATCH_S, STEPS_S, TICKS_S = 0.5, 0.2, 0.05


def device_id(index: int) -> str:
    """The id of the fleet's box number ``index``."""
    return f"fleet-{index:05d}"


class Boxes:
    """Every box of this process, on one selector."""

    def __init__(self, args: argparse.Namespace) -> None:
        import selectors

        self.args = args
        self.sel = selectors.DefaultSelector()
        self.rng = random.Random(os.getpid())
        self.boxes: list[Box] = []
        self.by_name: dict[str, Box] = {}
        self.to_dispatch: deque[Box] = deque()
        self.to_tick: deque[Box] = deque()
        self.next_poll = 0.0
        self.stopping = False
        self.turn_started = time.monotonic()
        self.longest_turn_s = 0.0  # the longest turn of the loop since the last mark
        self.stdin_buffer = b""
        self.to_build: list[int] = []
        self.connects: list[tuple[float, int, LoopLink]] = []  # (due, tiebreak, link)
        self.steps: list[tuple[float, int, Box]] = []  # (due, index, box)
        self.events: dict[str, list[list[Any]]] = {"arrival": [], "first_sample": [], "timeline": []}
        self.counts = {"steps": 0, "step_errors": 0, "receipts_made": 0, "messages_in": 0}
        self.per_s = 0.0
        self.schedule_id: int | None = None
        self.awaiting_ready = False
        self.started = time.monotonic()
        self._serial = 0

    # --- building boxes -------------------------------------------------------------------------

    def build(self, index: int) -> Box:
        offset = self.rng.randint(-self.args.offsets_ms, self.args.offsets_ms) if self.args.offsets_ms else 0
        box = build_box(
            self,
            self.args.root / "boxes" / device_id(index) / "agent.toml",
            index=index,
            offset_ms=offset,
            status_every_s=self.args.status_every_s,
            file_sink=self.args.sink == "file",
            on_first_sample=self.first_sample,
        )
        box.outbox.on_acked = lambda: self.top_up(box)
        return box

    def connect_later(self, link: LoopLink, delay_s: float) -> None:
        self._serial += 1
        heapq.heappush(self.connects, (time.monotonic() + delay_s, self._serial, link))

    # --- what boxes receive ---------------------------------------------------------------------

    def arrived(self, link: LoopLink, topic: str, payload: bytes) -> bool:
        self.counts["messages_in"] += 1
        box: Box = link.box
        kind = "zone_command" if "/zones/" in topic else topic.rsplit("/", 1)[-1]
        if payload.startswith(FLOOR):
            self.note("arrival", box.device_id, "floor", time.time(), len(payload))
            return False
        if kind in ("timeline", "zone_command", "command"):
            self.note("arrival", box.device_id, kind, time.time(), len(payload))
        if not link.inbox:
            self.to_dispatch.append(box)
        return True

    def dispatch(self, until: float) -> None:
        """What arrived, to each box's agent; a box whose player was woken steps at once. Until
        ``until``: the rest waits for the next turn."""
        while self.to_dispatch and time.monotonic() < until:
            box = self.to_dispatch.popleft()
            self.poll_now()  # real boxes read in parallel: read first
            box.dispatch_started = time.time()
            before = box.store.last_version
            box.link.dispatch()
            if box.store.last_version != before:
                self.note("timeline", box.device_id, box.store.last_version, time.time())
            if box.player.woken:
                self.step(box)

    def note(self, kind: str, *values: Any) -> None:
        self.events[kind].append(list(values))

    def first_sample(self, name: str, label: str, wall_s: float, box_ms: int) -> None:
        """The sink started an airing; with when the loop began handing that box its message."""
        box = self.by_name.get(name)
        self.note("first_sample", name, label, wall_s, box_ms, box.dispatch_started if box else None)

    # --- the player's steps ---------------------------------------------------------------------

    def step(self, box: Box) -> None:
        self.counts["steps"] += 1
        try:
            delay = box.player.step()
        except NotYet as wait:
            delay = box.clock.seconds_until(wait.instant_ms)
        except Exception:
            log.exception("player step of %s failed", box.device_id)
            self.counts["step_errors"] += 1
            delay = 1.0
        due = time.monotonic() + max(0.001, min(LONGEST_SLEEP_S if delay is None else delay, LONGEST_SLEEP_S))
        if box.next_step is None or due < box.next_step or box.next_step <= time.monotonic():
            box.next_step = due
            heapq.heappush(self.steps, (due, box.index, box))

    # --- receipts on demand ---------------------------------------------------------------------

    def make_receipt(self, box: Box) -> None:
        now = box.clock.now_ms()
        start = now - 300_000
        item = f"s{self.schedule_id}-{start}" if self.schedule_id else f"bench-{start}"
        box.outbox.append(
            event="completed",
            item_id=item,
            scheduled_at_ms=start,
            started_at_ms=start + 4,
            ended_at_ms=now,
            media_sha256=self.args.media_sha256,
        )
        self.counts["receipts_made"] += 1

    def top_up(self, box: Box) -> None:
        while box.window and box.link.connected and box.outbox.outstanding < box.window:
            self.make_receipt(box)

    # --- the loop -------------------------------------------------------------------------------

    def run(self) -> int:
        import selectors

        stdin = sys.stdin.buffer.fileno()
        os.set_blocking(stdin, False)
        self.sel.register(stdin, selectors.EVENT_READ, None)
        next_tick = next_misc = next_receipt = time.monotonic()
        while not self.stopping:
            # A turn stuck for long dumps every thread's stack into this process's log.
            faulthandler.dump_traceback_later(STUCK_S, exit=False)
            turn = time.monotonic()
            self.longest_turn_s = max(self.longest_turn_s, turn - self.turn_started)
            self.turn_started = turn
            busy = self.to_build or self.to_dispatch or self.to_tick
            due = [t for t in (self.steps[:1], self.connects[:1]) if t]
            timeout = 0.0 if busy else min([0.05, *(max(0.0, t[0][0] - turn) for t in due)])
            self.poll(timeout)
            self.dispatch(time.monotonic() + DISPATCH_S)
            self.build_some()
            self.connect_some()
            self.run_steps(time.monotonic() + STEPS_S)
            now = time.monotonic()
            if now >= next_tick:
                next_tick = now + 1.0
                if not self.to_tick:  # the last round is over (a busy process ticks less often)
                    self.to_tick.extend(self.boxes)
            self.tick_some(now + TICKS_S)
            while self.per_s > 0 and next_receipt <= now:
                online = [b for b in self.boxes if b.link.connected]
                if online:
                    self.make_receipt(self.rng.choice(online))
                next_receipt += 1 / self.per_s
            if now >= next_misc:  # keepalive pings, every few seconds per client
                next_misc = now + 5
                for box in self.boxes:
                    if box.link.connected:
                        box.link.client.loop_misc()
        return self.stop()

    def build_some(self) -> None:
        for index in self.to_build[:BUILD_PER_TURN]:
            box = self.build(index)
            self.boxes.append(box)
            self.by_name[box.device_id] = box
            box.agent.start()
            self.step(box)
        del self.to_build[:BUILD_PER_TURN]

    def connect_some(self) -> None:
        now, paced = time.monotonic(), 0
        while self.connects and self.connects[0][0] <= now and paced < self.args.connect_per_turn:
            heapq.heappop(self.connects)[2].connect()
            paced += 1

    def run_steps(self, until: float) -> None:
        """The player steps that are due, until ``until`` (the rest next turn)."""
        while self.steps and self.steps[0][0] <= time.monotonic() < until:
            at, _i, box = heapq.heappop(self.steps)
            if box.next_step == at:
                box.next_step = None
                self.step(box)
            self.poll_now()

    def poll_now(self) -> None:
        """Between two boxes' work: read the sockets if it has been a few milliseconds."""
        if time.monotonic() >= self.next_poll:
            self.next_poll = time.monotonic() + POLL_EVERY_S
            self.poll(0)

    def poll(self, timeout: float) -> None:
        """Read whatever the sockets (and stdin) hold; writes what waits to be written."""
        import selectors

        for key, mask in self.sel.select(timeout):
            if key.data is None:
                self.read_commands()
                continue
            link: LoopLink = key.data
            if mask & selectors.EVENT_READ:
                link.client.loop_read()
            if mask & selectors.EVENT_WRITE and link.client.socket() is not None:
                link.client.loop_write()

    def read_commands(self) -> None:
        chunk = os.read(sys.stdin.buffer.fileno(), 1 << 16)
        if not chunk:
            self.stopping = True
            return
        self.stdin_buffer += chunk
        *lines, self.stdin_buffer = self.stdin_buffer.split(b"\n")
        for line in lines:
            if line.strip() and self.command(json.loads(line)):
                self.stopping = True

    def tick_some(self, until: float) -> None:
        """The agent's tick (about once a second per box), spread over the turns."""
        while self.to_tick and time.monotonic() < until:
            box = self.to_tick.popleft()
            box.agent.tick()
            if box.player.woken:
                self.step(box)
            self.poll_now()
        online = sum(1 for box in self.boxes if box.link.connected) if self.awaiting_ready else 0
        if self.awaiting_ready and not self.to_build and online == len(self.boxes):
            self.awaiting_ready = False
            emit({"event": "ready", "online": online, "seconds": round(time.monotonic() - self.started, 2)})

    def command(self, cmd: dict[str, Any]) -> bool:
        name = cmd["cmd"]
        if name == "stop":
            return True
        if name == "add":
            self.to_build += range(cmd["first"], cmd["first"] + cmd["count"])
            self.awaiting_ready = True
            self.started = time.monotonic()
        elif name == "mark":
            emit({"event": "mark", **self.mark()})
        elif name == "events":
            found, self.events[cmd["kind"]] = self.events[cmd["kind"]], []
            emit({"event": "events", "kind": cmd["kind"], "rows": found})
        elif name == "offline":
            emit({"event": "offline", "rows": [self.offline(n, cmd["hours"]) for n in cmd["boxes"]]})
        elif name == "online":
            for n in cmd["boxes"]:
                self.by_name[n].link.release()
        elif name == "rejections":
            rows = {box.device_id: box.agent.rejected_documents for box in self.boxes}
            emit({"event": "rejections", "rows": rows})
        elif name == "receipts":
            self.per_s = float(cmd.get("per_s", 0.0))
            self.schedule_id = cmd.get("schedule_id")
            window, pumped = int(cmd.get("window", 0)), int(cmd.get("boxes", 0))
            for n, box in enumerate(self.boxes):
                box.window = window if n < pumped else 0
                self.top_up(box)
        return False

    def offline(self, name: str, hours: float) -> dict[str, Any]:
        """Cut box ``name`` from the broker, then let ``hours`` of simulated time pass for it at once:
        its real player plays (null sink) and writes receipts on its clock, as ``FakeClock`` drives
        a player in the agent's tests. The box stays cut (``online`` lets it reconnect)."""
        box = self.by_name[name]
        box.link.hold()
        start_ms = box.clock.now_ms()
        until = start_ms + round(hours * 3_600_000)
        before, steps = box.outbox.last_seq(), 0
        box.clock.fast = True
        try:
            while box.clock.now_ms() < until:
                steps += 1
                delay = box.player.step()
                left = until - box.clock.now_ms()
                box.clock.advance(left if delay is None else min(left, max(1, round(delay * 1000))))
        finally:
            box.clock.fast = False
        self.step(box)
        receipts = box.outbox.last_seq() - before
        return {"box": name, "from_ms": start_ms, "until_ms": until, "receipts": receipts, "steps": steps}

    def mark(self) -> dict[str, Any]:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        status = Path("/proc/self/status").read_text()
        rss_kb = int(status.split("VmRSS:", 1)[1].split()[0])  # ru_maxrss counts the parent's before exec
        latencies = [round(s, 4) for box in self.boxes for s in box.outbox.ack_latency_s]
        longest, self.longest_turn_s = self.longest_turn_s, 0.0
        for box in self.boxes:
            box.outbox.ack_latency_s = []
        return {
            "t": time.time(),
            "boxes": len(self.boxes),
            "online": sum(1 for b in self.boxes if b.link.connected),
            "acked": sum(b.outbox.acked for b in self.boxes),
            "outstanding": sum(b.outbox.outstanding for b in self.boxes),
            "drops": sum(b.link.drops for b in self.boxes),
            "reports_sent": sum(b.link.reports_sent for b in self.boxes),
            "cpu_s": round(usage.ru_utime + usage.ru_stime, 3),
            "rss_mb": round(rss_kb / 1024, 1),
            "ack_s": latencies,
            "longest_turn_s": round(longest, 3),
            **self.counts,
        }

    def stop(self) -> int:
        """Every agent stops as ``loa agent`` does; then the last packets leave."""
        for box in self.boxes:
            box.agent.stop()
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline and any(b.link.client.want_write() for b in self.boxes):
            for key, mask in self.sel.select(0.05):
                if key.data is not None and mask & 2:
                    key.data.client.loop_write()
        for box in self.boxes:
            box.outbox.close()
        return 0


def emit(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, required=True, help="the fleet's folder (boxes/<id>)")
    parser.add_argument("--status-every-s", type=float, default=60.0, help="each box's status interval")
    parser.add_argument("--offsets-ms", type=int, default=0, help="box clocks off by up to ± this")
    parser.add_argument("--sink", choices=["null", "file"], default="null")
    parser.add_argument("--connect-per-turn", type=int, default=20, help="connections opened per turn")
    parser.add_argument("--media-sha256", default=None, help="media named in made-up receipts")
    parser.add_argument("--log-level", default="WARNING")
    parser.add_argument("--profile", type=Path, help="cProfile the process into this file (at stop)")
    args = parser.parse_args()
    logging.basicConfig(
        level=args.log_level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(message)s"
    )
    if args.profile is None:
        return Boxes(args).run()
    import cProfile

    with cProfile.Profile() as profile:
        code = Boxes(args).run()
    profile.dump_stats(args.profile)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
