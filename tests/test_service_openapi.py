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
