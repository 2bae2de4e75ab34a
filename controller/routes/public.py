"""The public pages of a commune, without login: the bulletins aired there, their audio, a podcast feed.

A villager who missed a broadcast listens again on a phone. What may be shown is decided in
controller/public.py; here are the pages, the feed, the audio and their caching (an ETag from the
answer itself, so a refresh costs a 304; shared caches may keep pages a minute, the feed 15).
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, Response

from controller import public
from controller.bulletins import CATEGORIES
from controller.deps import ServicesDep, SessionDep
from controller.errors import NotFound
from controller.i18n import N_, gettext, use_language
from controller.models import utcnow
from controller.public_feed import FeedInfo, rss

router = APIRouter(include_in_schema=False)
PAGE_MAX_AGE = 60  # a bulletin that just aired shows within a minute, even through a cache
FEED_MAX_AGE = 900
AUDIO_MAX_AGE = 86_400
Page = Annotated[int, Query(ge=1, le=100_000)]


def _cached(request: Request, response: Response, *, max_age: int, vary_language: bool) -> Response:
    """``response`` with caching headers, or a bare 304 if the client holds this very answer."""
    etag = '"' + hashlib.sha256(response.body).hexdigest()[:32] + '"'
    headers = {"Cache-Control": f"public, max-age={max_age}", "ETag": etag}
    if vary_language:
        headers["Vary"] = "Cookie"  # the language cookie chooses the words around the bulletins
    if etag in {tag.strip() for tag in request.headers.get("if-none-match", "").split(",")}:
        return Response(status_code=304, headers=headers)
    response.headers.update(headers)
    return response


def _page(request: Request, name: str, **context: Any) -> Response:
    templates = request.app.state.templates
    response: HTMLResponse = templates.TemplateResponse(request, name, {"user": None, **context})
    return _cached(request, response, max_age=PAGE_MAX_AGE, vary_language=True)


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


@router.get("/p/", response_class=HTMLResponse)
def public_communes(
    request: Request, session: SessionDep, q: Annotated[str, Query(max_length=100)] = ""
) -> Response:
    """Communes with something aired, searchable by name with or without Vietnamese marks."""
    return _page(request, "public_list.html", communes=public.communes_on_air(session, q=q), q=q)


@router.get("/p/{commune_code}", response_class=HTMLResponse)
def public_commune(commune_code: str, request: Request, session: SessionDep, page: Page = 1) -> Response:
    commune = public.commune_by_code(session, commune_code)
    found = public.aired_bulletins(session, commune=commune, page=page)
    return _page(request, "public_commune.html", found=found, commune=commune)


@router.get("/p/{commune_code}/b/{bulletin_id}", response_class=HTMLResponse)
def public_bulletin(commune_code: str, bulletin_id: int, request: Request, session: SessionDep) -> Response:
    commune = public.commune_by_code(session, commune_code)
    bulletin = public.aired_bulletin(session, commune=commune, bulletin_id=bulletin_id)
    return _page(request, "public_bulletin.html", b=bulletin, commune=commune)


@router.api_route("/p/{commune_code}/feed.xml", methods=["GET", "HEAD"])
def public_feed(commune_code: str, request: Request, session: SessionDep, page: Page = 1) -> Response:
    """RSS 2.0 with enclosures, for podcast apps (always in Vietnamese: they send no cookie)."""
    commune = public.commune_by_code(session, commune_code)
    found = public.aired_bulletins(session, commune=commune, page=page, per_page=public.FEED_ITEMS)
    base, code = _base(request), commune.code
    feed_url = f"{base}/p/{code}/feed.xml"

    def paged(number: int) -> str:
        return feed_url + (f"?{urlencode({'page': number})}" if number > 1 else "")

    with use_language("vi"):
        info = FeedInfo(
            title=gettext("Loudspeaker bulletins of %(commune)s", commune=commune.name),
            description=gettext(
                "The approved bulletins broadcast on the loudspeakers of %(commune)s, to listen again.",
                commune=commune.name,
            ),
            author=commune.name,
            language="vi",
            page_url=f"{base}/p/{code}",
            self_url=paged(found.page),
            built_at=max((b.last_aired_at for b in found.items), default=utcnow()),
            first_url=paged(1) if found.pages > 1 else None,
            next_url=paged(found.page + 1) if found.page < found.pages else None,
            previous_url=paged(found.page - 1) if found.page > 1 else None,
        )
        body = rss(
            info,
            found.items,
            item_url=lambda b: f"{base}/p/{code}/b/{b.id}",
            audio_url=lambda b: f"{base}/p/{code}/audio/{b.id}.{b.extension}",
            category=lambda b: gettext(CATEGORIES.get(b.category, N_("Notice"))),
        )
    response = Response(body, media_type="application/rss+xml; charset=utf-8")
    return _cached(request, response, max_age=FEED_MAX_AGE, vary_language=False)


@router.api_route("/p/{commune_code}/audio/{bulletin_id}.{extension}", methods=["GET", "HEAD"])
def public_audio(
    commune_code: str,
    bulletin_id: int,
    extension: str,
    session: SessionDep,
    services: ServicesDep,
) -> FileResponse:
    """The frozen audio of a bulletin aired in the commune, and of nothing else (Range requests work)."""
    commune = public.commune_by_code(session, commune_code)
    bulletin = public.aired_bulletin(session, commune=commune, bulletin_id=bulletin_id)
    if extension != bulletin.extension or not services.store.has(bulletin.media_sha256):
        raise NotFound(N_("No such audio file."))
    return FileResponse(
        services.store.path_for(bulletin.media_sha256),
        media_type=bulletin.media_mime,
        headers={
            "Cache-Control": f"public, max-age={AUDIO_MAX_AGE}",
            "ETag": f'"{bulletin.media_sha256}"',
            "Content-Disposition": f'inline; filename="{bulletin.id}.{bulletin.extension}"',
        },
    )
