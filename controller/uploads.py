"""Receiving uploads: streamed to a file with a size cap, multipart or raw body alike."""

from __future__ import annotations

from pathlib import Path

from fastapi import Request
from starlette.datastructures import UploadFile

from controller.errors import InvalidInput, LoaError

CHUNK = 1024 * 1024


class UploadTooLarge(LoaError):
    status_code = 413
    title = "Tệp quá lớn"


async def save_upload(request: Request, path: Path, *, limit: int, field: str = "file") -> None:
    """Write the upload to ``path``; refuses more than ``limit`` bytes without reading them all."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit + 64 * 1024:
        raise UploadTooLarge(f"Tệp vượt quá giới hạn {limit // (1024 * 1024)} MB.", field=field)
    written = 0
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        form = await request.form(max_part_size=limit + 1)
        try:
            upload = form.get(field)
            if not isinstance(upload, UploadFile):
                raise InvalidInput("Chưa chọn tệp ghi âm.", field=field)
            with path.open("wb") as out:
                while chunk := await upload.read(CHUNK):
                    written += len(chunk)
                    if written > limit:
                        raise UploadTooLarge(
                            f"Tệp vượt quá giới hạn {limit // (1024 * 1024)} MB.", field=field
                        )
                    out.write(chunk)
        finally:
            await form.close()
    else:
        with path.open("wb") as out:
            async for chunk in request.stream():
                written += len(chunk)
                if written > limit:
                    raise UploadTooLarge(f"Tệp vượt quá giới hạn {limit // (1024 * 1024)} MB.", field=field)
                out.write(chunk)
    if written == 0:
        raise InvalidInput("Tệp ghi âm trống.", field=field)
