"""The agreement: one human-written TOML file that says what the parties agreed.

Parties, how an aircraft is attributed to a party, minima per pair of parties with
nested alert levels, protected airspaces and their warning schedules, channels and
what each party may see of the others. Every part of sharedsky reads it; nothing in
sharedsky hard-codes a safe distance. Format: docs/agreement.md.
"""

from sharedsky.agreement.core import Agreement, AgreementError, AirspaceSpec, PartyInfo
from sharedsky.agreement.disclosure import visible_mask
from sharedsky.agreement.load import load_agreement, loads_agreement
from sharedsky.agreement.model import DisclosureRule, json_schema

__all__ = [
    "Agreement",
    "AgreementError",
    "AirspaceSpec",
    "DisclosureRule",
    "PartyInfo",
    "json_schema",
    "load_agreement",
    "loads_agreement",
    "visible_mask",
]
