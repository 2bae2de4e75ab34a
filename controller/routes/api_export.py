"""The versioned export API for the provincial/central source information system (docs/export.md):
``GET /api/v1/export/{kind}`` pages through bulletins, schedules, as-run summaries and device status
with an opaque cursor; auditors and administrators only (an API token of theirs)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from controller import export_api
from controller.deps import ApiUser, SessionDep
from controller.models import utcnow

router = APIRouter(prefix="/api/v1/export", tags=["export"])


class ExportPage(BaseModel):
    """One page of an export feed (docs/export.md)."""

    schema_version: str = Field(
        description="major.minor of the export's format; a minor one only adds fields"
    )
    kind: str = Field(description="bulletins, schedules, asrun or devices")
    generated_at: str = Field(description="When the page was read (UTC)")
    count: int
    records: list[dict[str, Any]]
    next_cursor: str | None = Field(description="Where the next page starts; keep it for next time")
    has_more: bool = Field(description="Whether records are waiting after next_cursor")


@router.get("/{kind}", response_model=ExportPage)
def get_export(
    kind: export_api.Kind,
    user: ApiUser,
    session: SessionDep,
    since: Annotated[str, Query(max_length=40, description="Only records from this UTC time on")] = "",
    cursor: Annotated[str, Query(max_length=400, description="next_cursor of the previous page")] = "",
    limit: Annotated[int, Query(ge=1, le=export_api.MAX_LIMIT)] = 500,
) -> ExportPage:
    """One page of the export ``kind`` (bulletins, schedules, asrun, devices), oldest first."""
    export_api.require_export(user)
    now = utcnow()
    page = export_api.read_page(
        session,
        kind,
        now=now,
        since=export_api.utc_time(since, field="since") if since else None,
        cursor=cursor or None,
        limit=limit,
    )
    return ExportPage(**page.document(now=now))
