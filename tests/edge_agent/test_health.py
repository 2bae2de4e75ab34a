"""Health fields: CPU temperature from thermal zones, wireless link quality from a fake
/proc/net/wireless, the clock offset from chrony or SNTP (against a real UDP server), and a status
with every health field that the controller reads back whole."""

from __future__ import annotations

import socket
import struct
import threading
import time

import pytest

from edge_agent.health import (
    NTP_EPOCH_OFFSET_S,
    ClockOffset,
    Vitals,
    chrony_offset_ms,
    cpu_temp_c,
    link_quality,
    sntp_offset_ms,
)
from playlists.wire import Status, WireError, decode_json, to_json

WIRELESS_HEADER = """Inter-| sta-|   Quality        |   Discarded packets               | Missed | WE
 face | tus | link level noise |  nwid  crypt   frag  retry   misc | beacon | 22
"""


def zone(root, name: str, kind: str, temp: str) -> None:
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "type").write_text(kind + "\n")
    (folder / "temp").write_text(temp + "\n")


def test_cpu_temperature_prefers_the_cpu_zone(tmp_path):
    zone(tmp_path, "thermal_zone0", "gpu-thermal", "41000")
    zone(tmp_path, "thermal_zone1", "cpu-thermal", "52312")

    assert cpu_temp_c(tmp_path) == 52.3


def test_cpu_temperature_is_none_without_thermal_zones(tmp_path):
    assert cpu_temp_c(tmp_path / "absent") is None


def test_vitals_are_read_again_only_when_old_or_expired(tmp_path):
    """A status on every change reuses the readings for ``max_age_s``; a changed cache expires them."""
    now = [100.0]
    sizes = iter([1_000, 2_000, 3_000])
    vitals = Vitals(tmp_path, lambda: next(sizes), max_age_s=10, monotonic=lambda: now[0])

    first = vitals.read()
    assert first.cache_bytes == 1_000 and first.disk_free_mb is not None and first.disk_free_mb > 0
    now[0] += 9.9
    assert vitals.read() is first  # young enough: nothing read
    now[0] += 0.1
    assert vitals.read().cache_bytes == 2_000  # ten seconds old: read again
    vitals.expire()
    assert vitals.read().cache_bytes == 3_000  # the cache changed: read at once


def test_link_quality_is_the_wireless_quality_in_percent(tmp_path):
    wireless = tmp_path / "wireless"
    wireless.write_text(
        WIRELESS_HEADER + " wlan0: 0000   49.  -61.  -256        0      0      0      0      0        0\n"
    )

    assert link_quality(wireless) == 70  # 49/70


def test_link_quality_takes_the_best_interface_and_caps_at_100(tmp_path):
    wireless = tmp_path / "wireless"
    wireless.write_text(
        WIRELESS_HEADER
        + " wlan0: 0000   21.  -89.  -256        0      0      0      0      0        0\n"
        + " wlan1: 0000   80.  -30.  -256        0      0      0      0      0        0\n"
    )

    assert link_quality(wireless) == 100


def test_link_quality_is_none_without_a_wireless_interface(tmp_path):
    headers_only = tmp_path / "wireless"
    headers_only.write_text(WIRELESS_HEADER)

    assert link_quality(headers_only) is None
    assert link_quality(tmp_path / "absent") is None


@pytest.mark.parametrize(
    ("line", "offset"),
    [
        (
            "C0A80101,192.168.1.1,3,1767225600.1,0.000012000,-0.000001,0.000002,-10.1,0.001,0.01,0.02,0.001,64.5,Normal",
            -0.012,
        ),
        (
            "C0A80101,192.168.1.1,3,1767225600.1,-0.250000000,-0.000001,0.000002,-10.1,0.001,0.01,0.02,0.001,64.5,Normal",
            250.0,
        ),
        ("00000000,,0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,1.0,1.0,0.0,Not synchronised", None),
        ("garbage", None),
    ],
)
def test_chrony_tracking_gives_the_box_minus_ntp_offset(line, offset):
    assert chrony_offset_ms(line) == offset


@pytest.fixture
def sntp_server():
    """A real UDP server answering SNTP with a clock 1.5 s ahead of ours."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    stop = threading.Event()

    def ntp(seconds: float) -> bytes:
        whole = int(seconds) + NTP_EPOCH_OFFSET_S
        return struct.pack("!II", whole, int((seconds % 1) * 2**32))

    def serve() -> None:
        sock.settimeout(0.1)
        while not stop.is_set():
            try:
                request, peer = sock.recvfrom(512)
            except TimeoutError:
                continue
            now = time.time() + 1.5
            reply = bytearray(48)
            reply[0] = 0x24  # version 4, mode 4 (server)
            reply[1] = 2
            reply[24:32] = request[40:48]
            reply[32:40] = ntp(now)
            reply[40:48] = ntp(now)
            sock.sendto(bytes(reply), peer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"127.0.0.1:{sock.getsockname()[1]}"
    stop.set()
    thread.join(2)
    sock.close()


def test_sntp_measures_the_offset_against_a_server(sntp_server):
    assert sntp_offset_ms(sntp_server) == pytest.approx(-1_500, abs=20)


def test_clock_offset_uses_sntp_without_chrony_and_never_raises(sntp_server):
    assert ClockOffset(ntp_server=sntp_server, chronyc=None).measure() == pytest.approx(-1_500, abs=20)
    assert ClockOffset(ntp_server="127.0.0.1:9", chronyc=None).measure() is None
    assert not ClockOffset(ntp_server=None, chronyc=None).available


def test_a_status_with_every_health_field_round_trips():
    status = Status(
        device_id="box-1",
        state="online",
        uptime_s=5,
        disk_free_mb=900,
        cache_mb=12.5,
        media_quota_mb=2048,
        cpu_temp_c=48.2,
        clock_offset_ms=-3.5,
        clock_sane=True,
        clock_jump_ms=0,
        link_quality=70,
        volume=70,
    )

    assert decode_json(Status, to_json(status)) == status


def test_a_status_with_an_impossible_health_figure_is_refused():
    with pytest.raises(WireError, match="link_quality"):
        decode_json(
            Status, b'{"v":1,"type":"status","device_id":"box-1","state":"online","link_quality":101}'
        )
