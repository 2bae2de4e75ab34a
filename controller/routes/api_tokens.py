"""``/api/v1/tokens``: per-user API tokens for automation (controller/api_tokens.py). A user
manages their own; an admin anyone's (``user_id``)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from controller import api_tokens
from controller.deps import ApiUser, SessionDep
from controller.errors import NotFound
from controller.i18n import N_
from controller.models import ApiToken, RowId, User, utcnow

router = APIRouter(prefix="/api/v1", tags=["tokens"])


class TokenIn(BaseModel):
    name: str = Field(max_length=100, description="What the token is for (shown in the token list)")
    expires_in_days: int | None = Field(
        default=None, ge=1, le=api_tokens.MAX_DAYS, description="Lifetime in days; none: until revoked"
    )
    user_id: RowId | None = Field(default=None, description="Owner (admins only); default: yourself")


class ApiTokenOut(BaseModel):
    id: int
    user_id: int
    name: str
    hint: str = Field(description="The token's first characters")
    state: str = Field(description="active, expired or revoked")
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None


class NewTokenOut(ApiTokenOut):
    token: str = Field(description="The secret: shown this once, never again (send it as a bearer token)")


def _out(token: ApiToken) -> ApiTokenOut:
    state = api_tokens.state_of(token, now=utcnow())
    return ApiTokenOut(**token.model_dump(exclude={"token_hash", "created_by"}), state=state)


def _owner(session: SessionDep, user: User, user_id: int | None) -> User:
    if user_id is None or user_id == user.id:
        return user
    owner = session.get(User, user_id) if user.role == "admin" else None
    if owner is None:
        raise NotFound(N_("No such user."))
    return owner


@router.get("/tokens", response_model=list[ApiTokenOut])
def list_tokens(user: ApiUser, session: SessionDep, user_id: RowId | None = None) -> list[ApiTokenOut]:
    owner = _owner(session, user, user_id)
    return [_out(t) for t in api_tokens.list_tokens(session, owner_id=owner.id or 0)]


@router.post("/tokens", response_model=NewTokenOut, status_code=201)
def create_token(body: TokenIn, user: ApiUser, session: SessionDep, response: Response) -> NewTokenOut:
    owner = _owner(session, user, body.user_id)
    secret, token = api_tokens.create_token(
        session, actor=user, owner=owner, name=body.name, expires_in_days=body.expires_in_days
    )
    response.headers["Cache-Control"] = "no-store"
    return NewTokenOut(**_out(token).model_dump(), token=secret)


@router.delete("/tokens/{token_id}", status_code=204)
def revoke_token(token_id: RowId, user: ApiUser, session: SessionDep) -> Response:
    token = api_tokens.get_token(session, actor=user, token_id=token_id)
    api_tokens.revoke_token(session, actor=user, token=token)
    return Response(status_code=204)
