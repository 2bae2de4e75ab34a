"""Fetching media over HTTP into the cache: the box's bearer token, Range resume, sha256 check.

A download goes to ``media/<sha256>.part`` (fsynced) and is renamed to ``media/<sha256>`` only once its
size and hash match; a cut download is resumed with a Range request. The prefetcher fetches the media
of upcoming items in the background and reports what is still missing.
"""

from __future__ import annotations

import http.client
import logging
import os
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Collection, Sequence
from pathlib import Path

from edge_agent import __version__
from edge_agent.clock import Clock
from edge_agent.media import MediaCache, sha256_file
from playlists.files import fsync_dir
from playlists.wire import MediaRef

log = logging.getLogger(__name__)

CHUNK = 64 * 1024
HTTP_TIMEOUT_S = 30.0
RETRY_MISSING_S = 30.0


class FetchError(Exception):
    """A download that did not produce a verified file; ``code`` says why."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code


class MediaFetcher:
    """Downloads media into the cache with the box's bearer token, resuming partial downloads."""

    def __init__(
        self,
        cache: MediaCache,
        *,
        base_url: str,
        token: str,
        timeout_s: float = HTTP_TIMEOUT_S,
        opener: urllib.request.OpenerDirector | None = None,
    ) -> None:
        self.cache = cache
        self._base_url = base_url.rstrip("/") + "/"
        self._token = token
        self._timeout_s = timeout_s
        self._opener = opener or urllib.request.build_opener()

    def fetch(self, ref: MediaRef, cancel: threading.Event | None = None, keep: Collection[str] = ()) -> Path:
        """Make sure ``ref`` is in the cache (verified); raises FetchError otherwise."""
        final = self.cache.path(ref.sha256)
        if self.cache.has(ref):
            return final
        part = self.cache.part_path(ref.sha256)
        offset = part.stat().st_size if part.exists() else 0
        if offset > ref.bytes:
            part.unlink()
            offset = 0
        if not self.cache.make_room(ref.bytes - offset, {*keep, ref.sha256}):
            raise FetchError("quota", f"{ref.sha256} ({ref.bytes} bytes) does not fit in the media quota")
        if offset < ref.bytes or ref.bytes == 0:
            self._download(ref, part, offset, cancel)
        return self._store(ref, part, final)

    def _url(self, ref: MediaRef) -> str:
        url = urllib.parse.urljoin(self._base_url, ref.url)
        if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
            raise FetchError("bad_url", f"refusing to fetch {url!r}")
        return url

    def _download(self, ref: MediaRef, part: Path, offset: int, cancel: threading.Event | None) -> None:
        url = self._url(ref)
        headers = {"Authorization": f"Bearer {self._token}", "User-Agent": f"loa-edge-agent/{__version__}"}
        if offset:
            headers["Range"] = f"bytes={offset}-"
        request = urllib.request.Request(url, headers=headers)
        try:
            response = self._opener.open(request, timeout=self._timeout_s)
        except urllib.error.HTTPError as exc:
            exc.close()
            if exc.code == 416 and offset:
                log.warning("server refused to resume %s; starting over", ref.sha256)
                part.unlink(missing_ok=True)
                self._download(ref, part, 0, cancel)
                return
            code = "unauthorized" if exc.code in (401, 403) else "http_error"
            raise FetchError(code, f"GET {url} answered {exc.code}") from None
        except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
            raise FetchError("network", f"GET {url}: {exc}") from None
        with response:
            status = response.status
            if status == 206 and offset:
                content_range = response.headers.get("Content-Range", "")
                if not content_range.startswith(f"bytes {offset}-"):
                    raise FetchError("http_error", f"unexpected Content-Range {content_range!r}")
                mode = "ab"
            elif status == 200:
                if offset:
                    log.info("server ignored the Range request for %s; downloading it whole", ref.sha256)
                offset, mode = 0, "wb"
            else:
                raise FetchError("http_error", f"GET {url} answered {status}")
            self._copy(ref, response, part, offset, mode, cancel)

    def _copy(
        self,
        ref: MediaRef,
        response: http.client.HTTPResponse,
        part: Path,
        offset: int,
        mode: str,
        cancel: threading.Event | None,
    ) -> None:
        written = offset
        try:
            # Unbuffered, and read1 returns what has arrived: a cut (or a kill) loses almost nothing.
            with part.open(mode, buffering=0) as handle:
                while chunk := response.read1(CHUNK):
                    if cancel is not None and cancel.is_set():
                        raise FetchError("cancelled", f"download of {ref.sha256} stopped")
                    written += len(chunk)
                    if written > ref.bytes:
                        part.unlink(missing_ok=True)
                        raise FetchError("size_mismatch", f"{ref.sha256} is larger than {ref.bytes} bytes")
                    handle.write(chunk)
                os.fsync(handle.fileno())
        except (OSError, http.client.HTTPException) as exc:  # the .part stays, to be resumed
            raise FetchError("network", f"download of {ref.sha256} cut at {written} bytes: {exc}") from None

    def _store(self, ref: MediaRef, part: Path, final: Path) -> Path:
        size = part.stat().st_size if part.exists() else -1
        if size < ref.bytes:
            raise FetchError("incomplete", f"{ref.sha256}: {max(size, 0)} of {ref.bytes} bytes")
        actual = sha256_file(part)
        if actual != ref.sha256:
            part.unlink(missing_ok=True)
            log.error(
                "downloaded media %s hashes to %s; deleted, it will never be played", ref.sha256, actual
            )
            raise FetchError("hash_mismatch", f"{ref.sha256} hashes to {actual}")
        os.replace(part, final)
        fsync_dir(final.parent)
        log.info("media %s stored (%d bytes)", ref.sha256, ref.bytes)
        return final


class Prefetcher:
    """A background thread that fetches the media of upcoming items, retrying missing ones."""

    def __init__(
        self,
        fetcher: MediaFetcher,
        wanted: Callable[[], Sequence[MediaRef]],
        *,
        clock: Clock,
        referenced: Callable[[], Collection[str]] = frozenset,
        retry_s: float = RETRY_MISSING_S,
    ) -> None:
        self._fetcher = fetcher
        self._wanted = wanted
        self._referenced = referenced
        self._clock = clock
        self._retry_s = retry_s
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._missing: tuple[str, ...] = ()
        self._listeners: list[Callable[[], None]] = []
        self._thread: threading.Thread | None = None

    def add_listener(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` whenever the set of missing media changes."""
        self._listeners.append(callback)

    def missing(self) -> tuple[str, ...]:
        """sha256 of wanted media not (yet) in the cache, as of now."""
        return self._compute_missing({ref.sha256: ref for ref in self._wanted()})

    def wake(self) -> None:
        """Look at the wanted media now (a new timeline arrived, or a resync)."""
        self._wake.set()

    def run_once(self) -> tuple[str, ...]:
        """One pass: fetch every wanted file not in the cache; returns what is still missing."""
        wanted = {ref.sha256: ref for ref in self._wanted()}
        self._set_missing(self._compute_missing(wanted))
        keep = {*self._referenced(), *wanted}
        for sha in self._missing:
            if self._stop.is_set():
                break
            try:
                self._fetcher.fetch(wanted[sha], cancel=self._stop, keep=keep)
            except FetchError as exc:
                log.warning("media %s not fetched: %s", sha, exc)
            except Exception:
                log.exception("media %s not fetched", sha)
        self._set_missing(self._compute_missing(wanted))
        return self._missing

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="loa-prefetch", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            try:
                self.run_once()
            except Exception:
                log.exception("media prefetch pass failed")
            self._clock.wait(self._wake, self._retry_s)

    def _compute_missing(self, wanted: dict[str, MediaRef]) -> tuple[str, ...]:
        return tuple(sha for sha, ref in wanted.items() if not self._fetcher.cache.has(ref))

    def _set_missing(self, missing: tuple[str, ...]) -> None:
        if missing == self._missing:
            return
        self._missing = missing
        for callback in self._listeners:
            try:
                callback()
            except Exception:
                log.exception("missing-media listener failed")
