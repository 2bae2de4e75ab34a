"""Receiving uploads: streamed to a file with a size cap, multipart or raw body alike."""

from __future__ import annotations

from pathlib import Path

from fastapi import Request
from starlette.datastructures import UploadFile

from controller.errors import InvalidInput, LoaError
from controller.i18n import N_

CHUNK = 1024 * 1024


class UploadTooLarge(LoaError):
    status_code = 413
    title = N_("File too large")


async def save_upload(request: Request, path: Path, *, limit: int, field: str = "file") -> None:
    """Write the upload to ``path``; refuses more than ``limit`` bytes without reading them all."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit + 64 * 1024:
        raise UploadTooLarge(
            N_("The file is over the %(mb)s MB limit."), field=field, mb=limit // (1024 * 1024)
        )
    written = 0
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        form = await request.form(max_part_size=limit + 1)
        try:
            upload = form.get(field)
            if not isinstance(upload, UploadFile):
                raise InvalidInput(N_("No file chosen."), field=field)
            with path.open("wb") as out:
                while chunk := await upload.read(CHUNK):
                    written += len(chunk)
                    if written > limit:
                        raise UploadTooLarge(
                            N_("The file is over the %(mb)s MB limit."),
                            field=field,
                            mb=limit // (1024 * 1024),
                        )
                    out.write(chunk)
        finally:
            await form.close()
    else:
        with path.open("wb") as out:
            async for chunk in request.stream():
                written += len(chunk)
                if written > limit:
                    raise UploadTooLarge(
                        N_("The file is over the %(mb)s MB limit."), field=field, mb=limit // (1024 * 1024)
                    )
                out.write(chunk)
    if written == 0:
        raise InvalidInput(N_("The recording file is empty."), field=field)
