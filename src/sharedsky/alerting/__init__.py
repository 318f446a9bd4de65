"""Alerting: the one assessment step and the lifecycles that keep state between steps
(conflicts and losses of separation, airspace approaches and violations, distress)."""

from sharedsky.alerting.step import Assessment, StepResult

__all__ = ["Assessment", "StepResult"]
