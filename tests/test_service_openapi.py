"""docs/openapi.json is the service's own OpenAPI document: this fails when they drift.

Regenerate with: .venv/bin/python -m sharedsky.service.app --openapi > docs/openapi.json
"""

from __future__ import annotations

import json
from pathlib import Path

from sharedsky.service import openapi_document

DOC = Path(__file__).resolve().parents[1] / "docs" / "openapi.json"


def test_openapi_document_matches_the_app() -> None:
    committed = json.loads(DOC.read_text())
    assert committed == json.loads(json.dumps(openapi_document())), (
        "docs/openapi.json is out of date: .venv/bin/python -m sharedsky.service.app --openapi > docs/openapi.json")


def test_every_contract_endpoint_is_documented() -> None:
    paths = set(json.loads(DOC.read_text())["paths"])
    for p in ("/api/v1/me", "/api/v1/agreement", "/api/v1/basemap", "/api/v1/reports", "/api/v1/aircraft",
              "/api/v1/events", "/api/v1/messages", "/api/v1/ack", "/api/v1/record", "/metrics",
              "/api/v1/events/stream"):
        assert p in paths


def test_the_document_says_what_the_service_accepts_and_answers() -> None:
    """Issue 14, defect 12: security schemes, every error answer, request bodies as strict
    as the service (`{"reports": []}` and `{"type": "NOTICE"}` are no longer valid)."""
    doc = json.loads(DOC.read_text())
    assert set(doc["components"]["securitySchemes"]) == {"bearer", "key"}
    assert doc["security"] == [{"bearer": []}, {"key": []}]
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            for code in ("401", "403"):
                assert op["responses"][code]["content"]["application/json"]["schema"] == {
                    "$ref": "#/components/schemas/Error"}, (path, method, code)
    body = doc["paths"]["/api/v1/reports"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body["properties"]["reports"]["minItems"] == 1
    assert {"413", "422", "400", "403"} <= set(doc["paths"]["/api/v1/reports"]["post"]["responses"])
    msgs = doc["paths"]["/api/v1/messages"]["post"]["requestBody"]["content"]["application/json"]["schema"]["oneOf"]
    notice = next(m for m in msgs if m["title"] == "NOTICE")
    # A NOTICE is one polygon, one circle, several volumes or a withdrawal (issue 17): one of these sets.
    assert {"area", "floor_ft", "ceiling_ft", "start", "end"} in [set(a["required"]) for a in notice["anyOf"]]
    assert {"volumes"} in [set(a["required"]) for a in notice["anyOf"]]
    assert all(m["additionalProperties"] is False for m in msgs)
    assert notice["properties"]["area"]["additionalProperties"] is False
    stream = doc["paths"]["/api/v1/events/stream"]["get"]["responses"]["200"]["content"]
    assert list(stream) == ["text/event-stream"]
