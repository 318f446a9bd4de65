"""sharedsky: keeps the aircraft of parties that share a sky, but not a command, apart."""

__version__ = "0.1.0"
