"""The record: the append-only, signed log of everything that happened, and the keys."""
