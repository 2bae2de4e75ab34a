"""API errors that do not come from our own code are problem documents in the reader's language too."""

from __future__ import annotations

from tests.controller.conftest import World


def test_a_request_that_does_not_fit_the_schema_gets_a_problem_in_the_readers_language(world: World) -> None:
    admin = world.token("admin")
    missing = world.client.post("/api/v1/bulletins", json={"title": "Tin", "body": "Nội dung"}, headers=admin)
    english = world.client.post(
        "/api/v1/bulletins",
        json={"title": "Tin", "body": "Nội dung"},
        headers={**admin, "Cookie": "loa_lang=en"},
    )
    wrong = world.client.post(
        "/api/v1/bulletins", json={"commune_id": "một", "title": "Tin", "body": "Nội dung"}, headers=admin
    )
    for response in (missing, english, wrong):
        assert response.status_code == 422
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["field"] == "commune_id" and response.json()["status"] == 422
    assert missing.json()["detail"] == "Cần có commune_id."
    assert english.json()["detail"] == "commune_id is required."
    assert "không hợp lệ" in wrong.json()["detail"]
    assert wrong.json()["errors"][0]["loc"] == ["body", "commune_id"]  # for programs, as FastAPI has it


def test_fastapis_own_refusals_on_the_api_are_problems_and_pages_keep_theirs(world: World) -> None:
    admin = world.token("admin")
    unknown = world.client.get("/api/v1/no-such-thing", headers=admin)
    wrong_method = world.client.delete("/api/v1/zones", headers=admin)
    not_utf8 = world.client.post(
        "/api/v1/bulletins",
        content=b'{"title": "\x80"}',
        headers={**admin, "Content-Type": "application/json"},
    )
    for response, status in ((unknown, 404), (wrong_method, 405), (not_utf8, 400)):
        assert response.status_code == status
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["status"] == status and response.json()["detail"]
    assert wrong_method.headers["allow"] == "GET"
    assert "UTF-8" in not_utf8.json()["detail"]
    page = world.client.get("/no-such-page")
    assert page.status_code == 404 and page.headers["content-type"] == "application/json"


def test_the_schema_documents_problems_as_every_api_operations_errors(world: World) -> None:
    schema = world.client.get("/openapi.json").json()
    problem = {"$ref": "#/components/schemas/Problem"}
    for operations in schema["paths"].values():
        for operation in operations.values():
            default = operation["responses"]["default"]["content"]
            assert default == {"application/problem+json": {"schema": problem}}
    assert "HTTPValidationError" not in schema["components"]["schemas"]
    assert set(schema["components"]["schemas"]["Problem"]["required"]) == {"title", "status", "detail"}
