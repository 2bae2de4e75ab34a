"""How precisely do boxes start at the instant? Real agent processes, a real broker, real media.

Starts ``--boxes`` agent processes (file sink) against a Mosquitto on a free port and a local HTTP
media server, with one controller key made here. Each box gets the same signed timeline: ``--items``
short clips (1–2 s, MP3 and Opus) spaced ``--spacing-s`` apart, followed by a 7-day tail of six items
a day. Reported: the error of each start (first sample written by the sink minus the scheduled
instant), the spread between boxes for the same item (max − min first sample), and each agent's
resident memory and CPU while idle with that 7-day timeline loaded.

    python bench/start_accuracy.py                      # 50 boxes × 20 items
    python bench/start_accuracy.py --boxes 5 --items 5  # CI size

Prints a table and writes bench/results/start_accuracy.json.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import paho.mqtt.client as mqtt  # noqa: E402
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402
from paho.mqtt.enums import CallbackAPIVersion  # noqa: E402

from edge_agent.config import AgentConfig, write_config  # noqa: E402
from loa.mosquitto import Mosquitto  # noqa: E402
from playlists.signing import key_id, public_key_b64, sign  # noqa: E402
from playlists.wire import Ack, MediaRef, Status, Timeline, TimelineItem, Topics, decode_json  # noqa: E402

TOKEN = "bench-media-token"
TOPICS = Topics()
DAY_MS = 86_400_000
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(pct / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def make_clips(folder: Path) -> list[tuple[bytes, int, str]]:
    """Four clips of 1–2 s: (bytes, duration_ms, mime)."""
    clips = []
    for n, (seconds, fmt) in enumerate([(1.0, "mp3"), (1.5, "opus"), (2.0, "mp3"), (1.2, "opus")]):
        out = folder / f"clip{n}.{'ogg' if fmt == 'opus' else 'mp3'}"
        codec = ["-c:a", "libopus", "-b:a", "32k"] if fmt == "opus" else ["-c:a", "libmp3lame", "-b:a", "64k"]
        tone = f"sine=frequency={300 + 150 * n}:sample_rate=48000:duration={seconds}"
        subprocess.run(
            [
                "ffmpeg",
                "-nostdin",
                "-loglevel",
                "error",
                "-y",
                "-f",
                "lavfi",
                "-i",
                tone,
                "-ac",
                "1",
                *codec,
                str(out),
            ],
            check=True,
        )
        clips.append((out.read_bytes(), int(seconds * 1000), "audio/ogg" if fmt == "opus" else "audio/mpeg"))
    return clips


def serve_media(files: dict[str, bytes]) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = files.get(self.path)
            code = (
                401
                if self.headers.get("Authorization") != f"Bearer {TOKEN}"
                else 404
                if body is None
                else 200
            )
            self.send_response(code)
            self.send_header("Content-Length", str(len(body) if code == 200 and body else 0))
            self.end_headers()
            if code == 200 and body:
                self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            """Keep the benchmark's table free of access logs."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, args=(0.1,), daemon=True).start()
    return server


class Watcher:
    """The controller's side of MQTT: latest status per box; receipts acked as the controller does
    (the signature is not checked here: the controller's cost is not what is measured)."""

    def __init__(self, port: int, key: Ed25519PrivateKey) -> None:
        self.statuses: dict[str, dict[str, Any]] = {}
        self.seqs: dict[str, set[int]] = {}
        self._acked: dict[str, int] = {}
        self._key = key
        self._lock = threading.Lock()
        self.client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2, client_id="bench-controller"
        )
        self.client.on_connect = lambda c, *_: c.subscribe(
            [(TOPICS.all_statuses(), 1), (TOPICS.all_reports(), 1)]
        )
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def _on_message(self, _c: Any, _u: Any, message: mqtt.MQTTMessage) -> None:
        device = TOPICS.device_of(message.topic)
        if device is None or not message.payload:
            return
        with self._lock:
            if message.topic.endswith("/status"):
                decode_json(Status, message.payload)
                self.statuses[device] = json.loads(message.payload)
            else:
                seqs = self.seqs.setdefault(device, set())
                seqs.add(json.loads(message.payload)["payload"]["seq"])
                acked = self._acked.get(device, 0)
                while acked + 1 in seqs:
                    acked += 1
                if acked > self._acked.get(device, 0):
                    self._acked[device] = acked
                    ack = sign(Ack(device_id=device, seq=acked), self._key, key_id(self._key.public_key()))
                    self.client.publish(TOPICS.ack(device), ack, qos=1, retain=True)

    @property
    def receipts(self) -> int:
        with self._lock:
            return sum(len(seqs) for seqs in self.seqs.values())

    def wait(self, devices: list[str], ready: Any, what: str, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self._lock:
                if all(ready(self.statuses.get(d, {})) for d in devices):
                    return
            time.sleep(0.2)
        raise SystemExit(f"start_accuracy: timed out waiting for {what}")


def timeline_for(device: str, first_ms: int, args: argparse.Namespace, refs: list[MediaRef]) -> Timeline:
    items = [
        TimelineItem(
            id=f"bench-{n:03d}",
            start_ms=first_ms + n * int(args.spacing_s * 1000),
            duration_ms=refs[n % len(refs)].duration_ms,
            media=refs[n % len(refs)],
        )
        for n in range(args.items)
    ]
    tail_start = first_ms + args.items * int(args.spacing_s * 1000) + 3_600_000
    items += [  # the rest of the week: six bulletins a day
        TimelineItem(
            id=f"week-{n:03d}",
            start_ms=tail_start + n * (DAY_MS // 6),
            duration_ms=refs[n % len(refs)].duration_ms,
            media=refs[n % len(refs)],
        )
        for n in range(42)
    ]
    issued = now_ms()
    return Timeline(
        device_id=device,
        version=1,
        issued_at_ms=issued,
        valid_from_ms=issued - 60_000,
        valid_until_ms=issued + 8 * DAY_MS,
        items=tuple(items),
    )


def sample(pid: int) -> tuple[float, int]:
    """(resident MB, CPU ticks used) of a process."""
    rss_kb = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss_kb = int(line.split()[1])
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return rss_kb / 1024, int(fields[11]) + int(fields[12])


def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    load_at_start = round(os.getloadavg()[0], 2)  # other work on the machine skews the start errors
    key = Ed25519PrivateKey.generate()
    clips = make_clips(work)
    files, refs = {}, []
    for data, duration, mime in clips:
        sha = hashlib.sha256(data).hexdigest()
        files[f"/media/{sha}"] = data
        refs.append(
            MediaRef(sha256=sha, url=f"/media/{sha}", bytes=len(data), duration_ms=duration, mime=mime)
        )
    server = serve_media(files)
    broker = Mosquitto(work / "broker").start()
    devices = [f"bench-{n:03d}" for n in range(args.boxes)]
    processes: list[subprocess.Popen[bytes]] = []
    try:
        watcher = Watcher(broker.port, key)
        env = {**os.environ, "MALLOC_ARENA_MAX": "2"}  # as systemd/loa-agent.service sets it
        for device in devices:
            folder = work / device
            config = folder / "agent.toml"
            folder.mkdir()
            write_config(
                config,
                AgentConfig(
                    device_id=device,
                    controller_url=f"http://127.0.0.1:{server.server_address[1]}",
                    media_token=TOKEN,
                    controller_public_key=public_key_b64(key.public_key()),
                    mqtt_port=broker.port,
                    data_dir=folder,
                    sink="file",
                    reconnect_jitter_s=0,
                ),
            )
            log = (folder / "agent.log").open("wb")
            processes.append(
                subprocess.Popen(
                    [sys.executable, "-m", "edge_agent", "--config", str(config), "--log-level", "WARNING"],
                    cwd=ROOT,
                    stdout=log,
                    stderr=log,
                    env=env,
                )
            )
        watcher.wait(devices, lambda s: s.get("state") == "online", "every box online", 60 + args.boxes)
        first = now_ms() + int(args.lead_s * 1000)
        for device in devices:
            payload = sign(timeline_for(device, first, args, refs), key, key_id(key.public_key()))
            watcher.client.publish(TOPICS.timeline(device), payload, qos=1, retain=True)
        watcher.wait(
            devices,
            lambda s: s.get("timeline_version") == 1 and s.get("missing_media") == [],
            "timelines and media on every box",
            args.lead_s,
        )
        last_end = first + (args.items - 1) * int(args.spacing_s * 1000) + 2_000
        time.sleep(max(0.0, (last_end - now_ms()) / 1000) + 3)
        time.sleep(5)  # let the boxes settle into idle
        before = {p.pid: sample(p.pid) for p in processes}
        time.sleep(args.idle_s)
        after = {p.pid: sample(p.pid) for p in processes}
        receipts = watcher.receipts
        watcher.client.disconnect()
        watcher.client.loop_stop()
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
        broker.stop()
        server.shutdown()

    starts: dict[str, list[int]] = {f"bench-{n:03d}": [] for n in range(args.items)}
    errors: list[int] = []
    scheduled = {f"bench-{n:03d}": first + n * int(args.spacing_s * 1000) for n in range(args.items)}
    for device in devices:
        played = work / device / "sink" / "played.jsonl"
        for line in (json.loads(t) for t in played.read_text().splitlines()) if played.exists() else []:
            if line["item_id"] in scheduled:
                starts[line["item_id"]].append(line["first_sample_ms"])
                errors.append(line["first_sample_ms"] - scheduled[line["item_id"]])
    spreads = [max(v) - min(v) for v in starts.values() if v]
    rss = [after[pid][0] for pid in after]
    cpu = [(after[pid][1] - before[pid][1]) / CLOCK_TICKS / args.idle_s * 100 for pid in after]
    return {
        "boxes": args.boxes,
        "items": args.items,
        "spacing_s": args.spacing_s,
        "played": len(errors),
        "expected": args.boxes * args.items,
        "receipts": receipts,
        "p50_error_ms": percentile(errors, 50) if errors else None,
        "p99_error_ms": percentile(errors, 99) if errors else None,
        "max_error_ms": max(errors) if errors else None,
        "min_error_ms": min(errors) if errors else None,
        "spread_p50_ms": percentile(spreads, 50) if spreads else None,
        "spread_p99_ms": percentile(spreads, 99) if spreads else None,
        "spread_max_ms": max(spreads) if spreads else None,
        "idle_rss_mb": round(sum(rss) / len(rss), 1),
        "idle_rss_mb_max": round(max(rss), 1),
        "idle_cpu_percent": round(sum(cpu) / len(cpu), 3),
        "idle_cpu_percent_max": round(max(cpu), 3),
        "idle_window_s": args.idle_s,
        "timeline_items_per_box": args.items + 42,
        "host": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "machine": platform.machine(),
            "load_average": {"start": load_at_start, "end": round(os.getloadavg()[0], 2)},
        },
        "targets": {"p99_error_ms": 20, "spread_p99_ms": 20, "idle_rss_mb": 40, "idle_cpu_percent": 0.5},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--boxes", type=int, default=50, help="agent processes (default 50)")
    parser.add_argument("--items", type=int, default=20, help="scheduled items per box (default 20)")
    parser.add_argument("--spacing-s", type=float, default=4.0, help="seconds between items (default 4)")
    parser.add_argument(
        "--lead-s", type=float, default=30.0, help="seconds from publishing to the first item"
    )
    parser.add_argument("--idle-s", type=float, default=60.0, help="idle window for RSS and CPU (default 60)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "start_accuracy.json")
    parser.add_argument("--keep", type=Path, help="keep the boxes' folders (logs, sinks) here")
    args = parser.parse_args()
    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=False)
        result = run(args, args.keep)
    else:
        with tempfile.TemporaryDirectory(prefix="loa-bench-") as folder:
            result = run(args, Path(folder))
    rows = [
        (
            "boxes × items",
            f"{result['boxes']} × {result['items']} (played {result['played']}/{result['expected']})",
        ),
        (
            "start error p50 / p99 / max",
            f"{result['p50_error_ms']} / {result['p99_error_ms']} / {result['max_error_ms']} ms",
        ),
        (
            "spread between boxes p50 / p99 / max",
            f"{result['spread_p50_ms']} / {result['spread_p99_ms']} / {result['spread_max_ms']} ms",
        ),
        ("idle RSS per agent mean / max", f"{result['idle_rss_mb']} / {result['idle_rss_mb_max']} MB"),
        (
            "idle CPU per agent mean / max",
            f"{result['idle_cpu_percent']} / {result['idle_cpu_percent_max']} %"
            f" over {result['idle_window_s']:.0f} s",
        ),
        ("receipts received (distinct, acked)", f"{result['receipts']} of {2 * result['expected']}"),
        (
            "load average at start / end",
            f"{result['host']['load_average']['start']} / {result['host']['load_average']['end']}",
        ),
    ]
    width = max(len(name) for name, _ in rows)
    print("\n".join(f"{name:<{width}}  {value}" for name, value in rows))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
