"""Replay: recorded or live traffic stepped through in its own time by the one
assessment step (`sharedsky.alerting.step.Assessment`)."""

from sharedsky.replay.run import ReplaySummary, replay, replay_batches

__all__ = ["ReplaySummary", "replay", "replay_batches"]
