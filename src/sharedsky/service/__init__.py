"""The sharedsky service: authenticated reports, alerts, hotline and record over HTTP."""

from sharedsky.service.app import build_app, create_app, openapi_document

__all__ = ["build_app", "create_app", "openapi_document"]
