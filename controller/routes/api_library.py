"""The JSON API for playlists, groups, zone policies, the lexicon and recordings."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from controller import bulletins, lexicon, library
from controller.deps import ApiUser, ServicesDep, SessionDep
from controller.models import Bulletin, RowId
from controller.routes.api import BulletinOut, _bulletin_out
from controller.uploads import save_upload
from playlists.playlist import PlaylistEntry
from playlists.policy import ZonePolicy

router = APIRouter(prefix="/api/v1", tags=["api"])


class PlaylistIn(BaseModel):
    name: str = Field(max_length=200)
    commune_id: RowId | None = None
    entries: list[PlaylistEntry] = Field(max_length=200)


class PlaylistOut(BaseModel):
    id: int
    name: str
    commune_id: int | None
    entries: list[dict[str, object]]
    duration_ms: int | None = Field(description="None while something in it is not approved")


@router.get("/playlists", response_model=list[PlaylistOut])
def get_playlists(user: ApiUser, session: SessionDep) -> list[PlaylistOut]:
    return [
        PlaylistOut(
            id=p.id or 0,
            name=p.name,
            commune_id=p.commune_id,
            entries=json.loads(p.entries_json),
            duration_ms=library.playlist_duration_ms(session, p),
        )
        for p in library.list_playlists(session, user=user)
    ]


@router.post("/playlists", response_model=PlaylistOut, status_code=201)
def post_playlist(body: PlaylistIn, user: ApiUser, session: SessionDep) -> PlaylistOut:
    p = library.create_playlist(
        session, user=user, name=body.name, commune_id=body.commune_id, entries=body.entries
    )
    return PlaylistOut(
        id=p.id or 0,
        name=p.name,
        commune_id=p.commune_id,
        entries=json.loads(p.entries_json),
        duration_ms=library.playlist_duration_ms(session, p),
    )


class GroupIn(BaseModel):
    name: str = Field(max_length=200)
    commune_id: RowId | None = None
    device_ids: list[str] = Field(min_length=1, max_length=5000)


@router.post("/groups", status_code=201)
def post_group(body: GroupIn, user: ApiUser, session: SessionDep) -> dict[str, object]:
    group = library.create_group(
        session, user=user, name=body.name, commune_id=body.commune_id, device_ids=body.device_ids
    )
    return {
        "id": group.id,
        "name": group.name,
        "commune_id": group.commune_id,
        "device_ids": sorted(body.device_ids),
    }


@router.put("/zones/{zone_id}/policy")
def put_policy(
    zone_id: RowId, body: ZonePolicy | None, user: ApiUser, session: SessionDep, services: ServicesDep
) -> dict[str, object]:
    """Quiet hours, daily caps and volume limits for a zone and every zone below it (null clears)."""
    zone = library.set_policy(session, user=user, zone_id=zone_id, policy=body)
    services.publisher.changed()
    return {"zone_id": zone.id, "policy": json.loads(zone.policy_json) if zone.policy_json else None}


class NormalizeIn(BaseModel):
    text: str = Field(max_length=30_000)
    accent: Literal["north", "central", "south"] = "central"


@router.post("/normalize")
def post_normalize(body: NormalizeIn, user: ApiUser, session: SessionDep) -> dict[str, object]:
    """How a text will be read with the province's lexicon, and the abbreviations it does not know."""
    result = lexicon.spoken_form(session, text=body.text, accent=body.accent)
    return {"spoken": result.text, "unknown": list(result.unknown)}


class LexiconIn(BaseModel):
    kind: Literal["abbreviation", "pronunciation"]
    term: str = Field(max_length=100)
    spoken: str = Field(max_length=300)


@router.get("/lexicon")
def get_lexicon(user: ApiUser, session: SessionDep) -> list[dict[str, object]]:
    return [
        {"id": e.id, "kind": e.kind, "term": e.term, "spoken": e.spoken}
        for e in lexicon.list_entries(session)
    ]


@router.put("/lexicon", status_code=200)
def put_lexicon(body: LexiconIn, user: ApiUser, session: SessionDep) -> dict[str, object]:
    entry = lexicon.save_entry(session, user=user, kind=body.kind, term=body.term, spoken=body.spoken)
    return {"id": entry.id, "kind": entry.kind, "term": entry.term, "spoken": entry.spoken}


@router.delete("/lexicon/{entry_id}", status_code=204)
def delete_lexicon(entry_id: RowId, user: ApiUser, session: SessionDep) -> None:
    lexicon.delete_entry(session, user=user, entry_id=entry_id)


@router.post("/bulletins/{bulletin_id}/recording", response_model=BulletinOut)
async def post_recording(
    bulletin_id: RowId, request: Request, user: ApiUser, session: SessionDep, services: ServicesDep
) -> BulletinOut:
    """Upload a recording (any format ffmpeg reads) that airs instead of synthetic speech."""
    bulletin = bulletins.get_bulletin(session, user=user, bulletin_id=bulletin_id)
    limit = services.settings.max_upload_mb * 1024 * 1024
    with tempfile.TemporaryDirectory(prefix="loa-upload-") as scratch:
        path = Path(scratch) / "upload"
        await save_upload(request, path, limit=limit)

        def work() -> Bulletin:
            return bulletins.attach_recording(
                session, user=user, bulletin=bulletin, path=path, renderer=services.renderer
            )

        return _bulletin_out(await run_in_threadpool(work))
