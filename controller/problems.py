"""The API's one error document (RFC 9457 problem details), in the OpenAPI schema and on the wire.

Every error of ``/api/`` and ``/media/`` is ``application/problem+json`` with a title and a detail in
the reader's language: ``LoaError`` (the handler in ``app.py``), and here the requests that do not
fit the schema or that FastAPI refuses itself, which would otherwise get FastAPI's English JSON.
The schema documents it once per operation, as the ``default`` response and the 422.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler, request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException

from controller.errors import Forbidden, InvalidInput, LoaError, NotFound, Unauthenticated
from controller.i18n import N_, gettext

#: Paths whose errors are problem documents (the panel's pages show an error page instead).
API_PATHS = ("/api/", "/media/")
MEDIA_TYPE = "application/problem+json"
#: Where a request's part sits in a validation error's ``loc``, before the field's own path.
_PARTS = ("body", "query", "path", "header", "cookie")
#: What FastAPI and Starlette answer themselves (a body that is not UTF-8, an unknown path or method).
_HTTP_TITLES = {401: Unauthenticated.title, 403: Forbidden.title, 404: NotFound.title}
_HTTP_MESSAGES = {
    400: N_("The request cannot be read: send JSON encoded in UTF-8."),
    404: N_("There is no such address in the API."),
    405: N_("This address does not take this method."),
}


class Problem(BaseModel):
    """What every API error answers, as ``application/problem+json``."""

    model_config = ConfigDict(extra="allow", title="Problem")

    type: str = Field(default="about:blank", description="Always about:blank: the status says it all")
    title: str = Field(description="The kind of error, in the reader's language")
    status: int = Field(description="The HTTP status code")
    detail: str = Field(description="What went wrong and what to do, in the reader's language")
    field: str | None = Field(default=None, description="The input at fault, when there is one")


def document(app: FastAPI) -> None:
    """Every API operation's schema lists a Problem as its ``default`` response (any status it does
    not list) and as its 422, in place of FastAPI's validation error list."""
    make_schema = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = make_schema()  # FastAPI keeps it as app.openapi_schema: changed in place
        problem = {"content": {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}}
        for path, operations in schema.get("paths", {}).items():
            if not path.startswith(API_PATHS):
                continue
            for operation in operations.values():
                responses = operation.setdefault("responses", {})
                if "422" in responses:
                    responses["422"] = {"description": "Invalid data", **problem}
                responses["default"] = {"description": "An error, in the reader's language", **problem}
        schemas = schema.setdefault("components", {}).setdefault("schemas", {})
        schemas["Problem"] = Problem.model_json_schema()
        if "#/components/schemas/HTTPValidationError" not in json.dumps(schema):
            schemas.pop("HTTPValidationError", None)
            schemas.pop("ValidationError", None)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _invalid(errors: list[dict[str, Any]]) -> InvalidInput:
    """The first validation error, as the message a person reads."""
    first = errors[0] if errors else {}
    loc = [str(part) for part in first.get("loc", ())]
    name = ".".join(loc[1:] if loc[:1] and loc[0] in _PARTS else loc) or "body"
    kind = first.get("type")
    if kind == "json_invalid":
        return InvalidInput(N_("The request body is not valid JSON."), field="body")
    if kind == "missing":
        return InvalidInput(N_("%(name)s is required."), field=name, name=name)
    return InvalidInput(
        N_("%(name)s is not valid: see its type and limits in the API schema (/openapi.json)."),
        field=name,
        name=name,
    )


async def validation_problem(request: Request, exc: Exception) -> Response:
    """A request that does not fit the schema: on the API a problem document, elsewhere FastAPI's."""
    assert isinstance(exc, RequestValidationError)
    if not request.url.path.startswith(API_PATHS):
        return await request_validation_exception_handler(request, exc)
    errors = list(exc.errors())
    error = _invalid(errors)
    body = Problem(
        title=gettext(error.title), status=error.status_code, detail=error.message, field=error.field
    )
    # FastAPI's own list too, for programs (its messages are English; the detail above is not)
    found = jsonable_encoder([{k: e[k] for k in ("type", "loc", "msg") if k in e} for e in errors])
    return JSONResponse(
        {**body.model_dump(), "errors": found}, status_code=error.status_code, media_type=MEDIA_TYPE
    )


async def http_problem(request: Request, exc: Exception) -> Response:
    """FastAPI's and Starlette's own 4xx answers: on the API a problem document, elsewhere as they are."""
    assert isinstance(exc, HTTPException)
    if not request.url.path.startswith(API_PATHS) or not 400 <= exc.status_code < 500:
        return await http_exception_handler(request, exc)
    message = _HTTP_MESSAGES.get(exc.status_code)
    body = Problem(
        title=gettext(_HTTP_TITLES.get(exc.status_code, LoaError.title)),
        status=exc.status_code,
        detail=gettext(message) if message else str(exc.detail),
    )
    return JSONResponse(body.model_dump(), exc.status_code, headers=exc.headers, media_type=MEDIA_TYPE)


def install(app: FastAPI) -> None:
    """The API's errors as problem documents, and problem documents in the OpenAPI schema."""
    app.add_exception_handler(RequestValidationError, validation_problem)
    app.add_exception_handler(HTTPException, http_problem)
    document(app)
