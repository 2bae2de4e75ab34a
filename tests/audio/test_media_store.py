from __future__ import annotations

import errno
import hashlib
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audio import MediaStore

DATA = b"ID3 not really an mp3, but bytes are bytes"
SHA = hashlib.sha256(DATA).hexdigest()


def stored_files(store: MediaStore) -> list[Path]:
    """Every file under the store's root, half-written ones included."""
    return sorted(p for p in store.root.rglob("*") if p.is_file())


def test_put_bytes_lays_the_file_out_under_its_hash_prefix(store: MediaStore) -> None:
    stored = store.put_bytes(DATA)

    assert stored.sha256 == SHA
    assert stored.path == store.root / SHA[:2] / SHA
    assert stored.bytes == len(DATA)
    assert stored.path.read_bytes() == DATA
    assert stored.path.stat().st_mode & 0o777 == 0o644


def test_putting_the_same_bytes_again_changes_nothing(store: MediaStore, tmp_path: Path) -> None:
    src = tmp_path / "clip.mp3"
    src.write_bytes(DATA)

    first = store.put_bytes(DATA)
    before = first.path.stat().st_mtime_ns
    again = [store.put_bytes(DATA), store.put_file(src), store.put_file(src)]

    assert again == [first, first, first]
    assert stored_files(store) == [first.path]
    assert first.path.stat().st_mtime_ns == before


def test_put_file_hashes_what_it_copies(store: MediaStore, tmp_path: Path) -> None:
    src = tmp_path / "big.bin"
    src.write_bytes(os.urandom(3 * 1024 * 1024 + 17))

    stored = store.put_file(src)

    assert stored.sha256 == hashlib.sha256(src.read_bytes()).hexdigest()
    assert stored.bytes == src.stat().st_size
    assert stored_files(store) == [stored.path]


def test_has_and_open_find_stored_files_only(store: MediaStore) -> None:
    stored = store.put_bytes(DATA)

    assert store.has(stored.sha256)
    assert not store.has("0" * 64)
    with store.open(stored.sha256) as handle:
        assert handle.read() == DATA
    with pytest.raises(FileNotFoundError):
        store.open("0" * 64)


@pytest.mark.parametrize(
    "bad",
    [
        "../etc/passwd",
        f"../{SHA[3:]}",
        SHA.upper(),
        SHA[:63],
        SHA + "0",
        SHA + "\n",
        f"{SHA[:2]}/{SHA[3:]}",
        "",
        "g" * 64,
    ],
)
def test_path_for_rejects_anything_but_64_lowercase_hex_digits(store: MediaStore, bad: str) -> None:
    with pytest.raises(ValueError, match="sha256"):
        store.path_for(bad)
    with pytest.raises(ValueError):
        store.has(bad)


_FAIL_MIDWAY = """
import resource, signal, sys
from pathlib import Path
from audio import MediaStore

signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))
try:
    MediaStore(Path(sys.argv[1])).put_bytes(b"x" * (1024 * 1024))
except OSError as exc:
    print(exc.errno)
    sys.exit(0)
sys.exit("the write was expected to fail")
"""


def test_a_write_that_fails_midway_leaves_no_partial_file(store: MediaStore) -> None:
    # A real failure: the kernel refuses to let the file grow past 64 KiB (as a full disk would).
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", _FAIL_MIDWAY, str(store.root)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(root)},
        check=False,
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(errno.EFBIG)
    assert store.root.is_dir()
    assert stored_files(store) == []


@settings(max_examples=25, deadline=None)
@given(st.binary(max_size=4096))
def test_stored_bytes_read_back_identical_under_their_hash(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as root:
        store = MediaStore(Path(root))
        stored = store.put_bytes(data)
        with store.open(stored.sha256) as handle:
            assert handle.read() == data
        assert stored.sha256 == hashlib.sha256(data).hexdigest()
