"""The agreement document as typed models: what a TOML agreement may contain.

These pydantic models check the *shape* of the file (keys, types, simple bounds) and
generate the published JSON Schema (docs/agreement.schema.json). Checks that need the
whole document (unknown parties, nesting of levels, ambiguous attribution, geometry)
are in `sharedsky.agreement.load`. Unknown keys are refused everywhere: a typo must
never be silently ignored.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

PartyId = Annotated[
    str,
    Field(pattern=r"^[a-z][a-z0-9_-]*$", max_length=40,
          description="Party id: lower-case letters, digits, '-' or '_'"),
]
Hex24 = Annotated[
    str,
    Field(pattern=r"^[0-9a-fA-F]{6}$", description="ICAO 24-bit address, 6 hex digits"),
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)  # inf breaks geometry


class AgreementInfo(_Strict):
    """`[agreement]`: what the document is and the names of its alert levels."""

    name: str = Field(description="Title of the agreement")
    version: str = Field("", description="Version or date of the agreement")
    description: str = ""
    default_party: PartyId = Field(
        description="Party of an aircraft that matches no attribution rule, e.g. 'unknown'"
    )
    alert_levels: list[Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]*$")]] = Field(
        default_factory=lambda: ["advisory", "warning"],
        min_length=1,
        description="Separation alert levels, least to most severe",
    )


class Attribution(_Strict):
    """`[party.attribution]`: how an aircraft is recognised as this party's.

    Precedence when rules of different parties match one aircraft: explicit `icao`
    list, then `icao_ranges`, then `callsign_prefixes`, then `callsign_patterns`, then
    `sources`. Two parties may not claim the same aircraft at the same precedence.
    """

    icao: list[Hex24] = Field(default_factory=list, description="Explicit ICAO addresses")
    icao_ranges: list[tuple[Hex24, Hex24]] = Field(
        default_factory=list, description="Inclusive ICAO address blocks [first, last]"
    )
    callsign_prefixes: list[Annotated[str, Field(min_length=1, max_length=8)]] = Field(
        default_factory=list, description="Callsign prefixes (case-insensitive)"
    )
    callsign_patterns: list[Annotated[str, Field(min_length=1)]] = Field(
        default_factory=list,
        description="Regular expressions matched against the whole upper-case callsign",
    )
    sources: list[Annotated[str, Field(min_length=1)]] = Field(
        default_factory=list, description="Feed names or reporting parties"
    )


class Party(_Strict):
    """`[[party]]`: one party sharing the sky."""

    id: PartyId
    name: str
    colour: str = Field("#888888", pattern=r"^#[0-9a-fA-F]{6}$", description="#rrggbb")
    attribution: Attribution = Field(default_factory=Attribution)


class LevelMinima(_Strict):
    """`[[minima.level]]`: minima and look-ahead of one alert level."""

    name: str = Field(description="One of [agreement].alert_levels")
    h_nm: float = Field(gt=0, description="Horizontal minimum, NM")
    v_ft: float = Field(gt=0, description="Vertical minimum, ft")
    t_s: float = Field(ge=0, description="Look-ahead, s")


class MinimaDefault(_Strict):
    """`[minima_default]`: minima of every pair of parties not listed in `[[minima]]`."""

    same_party: bool = Field(
        False, description="Also check pairs of aircraft of the same party by default"
    )
    level: list[LevelMinima] = Field(default_factory=list)


Region = Literal["NONE", "FAR", "MID", "NEAR"]


class WellClearLevel(_Strict):
    """`[[minima.wellclear.level]]`: one DO-365 alert level (least severe first): its
    WCV_TAUMOD volume, its alerting times and the guidance region its bands are painted in."""

    region: Region = Field(description="Guidance region of this level's bands: NONE, FAR, MID or NEAR")
    dthr_nm: float = Field(gt=0, le=50, description="Distance threshold DTHR, NM")
    zthr_ft: float = Field(gt=0, le=20000, description="Vertical threshold ZTHR, ft")
    tthr_s: float = Field(ge=0, le=600, description="Modified tau threshold TTHR, s")
    tcoa_s: float = Field(0.0, ge=0, le=600, description="Time to co-altitude threshold TCOA, s")
    alerting_time_s: float = Field(gt=0, le=600, description="Alert when the volume is entered within this, s")
    early_alerting_time_s: float | None = Field(
        None, gt=0, le=600,
        description="Keep the level while the volume is entered within this (hysteresis), s; default alerting_time_s",
    )


def _do365b_levels() -> list[WellClearLevel]:
    """DO-365B's Phase I alerter (DAIDALUS's DO_365B_no_SUM.conf): preventive, corrective, warning."""
    return [
        WellClearLevel(region="NONE", dthr_nm=0.66, zthr_ft=700.0, tthr_s=35.0, alerting_time_s=55.0,
                       early_alerting_time_s=75.0),
        WellClearLevel(region="MID", dthr_nm=0.66, zthr_ft=450.0, tthr_s=35.0, alerting_time_s=55.0,
                       early_alerting_time_s=75.0),
        WellClearLevel(region="NEAR", dthr_nm=0.66, zthr_ft=450.0, tthr_s=35.0, alerting_time_s=25.0,
                       early_alerting_time_s=55.0),
    ]


class WellClear(_Strict):
    """`[minima.wellclear]`: a DO-365 well-clear alerter for a pair of parties, beside or
    instead of its cylinder minima: a DAIDALUS `.conf` file, or inline keys (defaults:
    DO-365B without SUM, Phase I alerter)."""

    conf: str | None = Field(
        None, min_length=1,
        description="A DAIDALUS configuration file (.conf), relative to the agreement; no other key but "
                    "alerter with it",
    )
    alerter: str | None = Field(
        None, min_length=1, description="With conf: which of its alerters applies (default: its first)"
    )
    lookahead_s: float = Field(180.0, gt=0, le=600, description="Lookahead time, s")
    corrective_region: Literal["FAR", "MID", "NEAR"] = Field(
        "MID", description="Region from which an ownship's alert is corrective: its guidance bands are sent"
    )
    alerting_m: int = Field(2, ge=0, le=20, description="M of N: a level is output when reached M times ...")
    alerting_n: int = Field(4, ge=0, le=20, description="... in the last N steps (0, 0: no M of N)")
    hysteresis_s: float = Field(5.0, ge=0, le=60, description="M-of-N window restarts after this gap, s")
    persistence_s: float = Field(4.0, ge=0, le=60, description="A raised level is kept at least this long, s")
    turn_rate_deg_s: float = Field(3.0, gt=0, le=30, description="Bands: turn rate of a track manoeuvre, deg/s")
    vertical_rate_fpm: float = Field(500.0, gt=0, le=10000,
                                     description="Bands: climb or descent rate of an altitude manoeuvre, fpm")
    level: list[WellClearLevel] = Field(
        default_factory=_do365b_levels, min_length=1, max_length=6,
        description="Alert levels, least severe first (default: DO-365B's preventive, corrective and warning)",
    )


class PairMinima(_Strict):
    """`[[minima]]`: minima between two parties (symmetric; the same id twice = own pairs),
    and/or a DO-365 well-clear alerter (`[minima.wellclear]`)."""

    parties: tuple[PartyId, PartyId]
    level: list[LevelMinima] = Field(
        default_factory=list,
        description="Cylinder minima per alert level; may be empty when the pair has a wellclear alerter instead",
    )
    wellclear: WellClear | None = Field(
        None, description="A DO-365 well-clear alerter for this pair, beside or instead of its levels"
    )


class Stage(_Strict):
    """One warning before a predicted airspace entry."""

    name: str
    lead_s: float = Field(gt=0, description="Seconds before predicted entry")


class Schedule(_Strict):
    """`[airspace.schedule]`: warnings before entry, a violation on entry, repeats inside."""

    stages: list[Stage] = Field(
        default_factory=lambda: [Stage(name="advisory", lead_s=300), Stage(name="warning", lead_s=120)],
        description="Strictly decreasing lead times",
    )
    repeat_inside_s: float = Field(30.0, gt=0, description="Repeat the violation while inside, s")
    reissue_after_s: float = Field(
        600.0, ge=0,
        description="A stage already issued to an aircraft for this airspace is not issued to it "
                    "again within this long (nor within the stage's own lead), however often its "
                    "predicted entry comes and goes while it stays outside, s",
    )


class Airspace(_Strict):
    """`[[airspace]]`: a protected airspace. Exactly one of country, geojson, polygon."""

    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
    name: str = ""
    owner: PartyId
    country: str | None = Field(None, description="ISO 3166 alpha-3 code, bundled borders")
    geojson: str | None = Field(None, description="GeoJSON file, relative to the agreement")
    polygon: list[tuple[float, float]] | None = Field(
        None, description="Closed ring of [lon, lat] (first point repeated last)"
    )
    buffer_nm: float = Field(0.0, ge=0, description="Widen the outline, e.g. 12 for territorial waters")
    floor_ft: float = 0.0
    ceiling_ft: float = 60000.0
    barred: list[PartyId] = Field(default_factory=list)
    horizon_s: float = Field(300.0, gt=0, description="How far ahead to predict entries, s")
    schedule: Schedule = Field(default_factory=Schedule)


class Channels(_Strict):
    """`[channels]`: how the parties talk."""

    distress_mhz: list[Annotated[float, Field(gt=0)]] = Field(
        default_factory=lambda: [121.5, 243.0]
    )
    hotline: str = ""
    language: str = "English"
    notice_lead_s: float = Field(0.0, ge=0, description="Notice required before operations, s")
    ack_within_s: float = Field(60.0, gt=0, description="Messages must be acknowledged within, s")


class AltitudeUnknownPair(_Strict):
    """`[[alerting.altitude_unknown_pair]]`: the altitude-unknown rule of one pair of parties."""

    parties: tuple[PartyId, PartyId]
    rule: Literal["horizontal", "exclude"]


class Alerting(_Strict):
    """`[alerting]`: how a predicted conflict lives as an alert (hysteresis), so that a
    noisy track neither ends nor restarts an alert the parties are talking about, and
    what is done with an aircraft whose altitude is unknown."""

    clear_after_s: float = Field(
        20.0, gt=0, description="An alert ends after the conflict has not been predicted for this long, s"
    )
    keep_factor: float = Field(
        1.2, ge=1, description="An open alert stays open while the pair conflicts with its minima times this"
    )
    retime_s: float = Field(
        10.0, ge=0, description="Re-announce when the predicted time of loss moves by more than this, s"
    )
    retime_frac: float = Field(
        0.2, ge=0, description="... and by more than this fraction of the time left"
    )
    altitude_unknown: Literal["horizontal", "exclude"] = Field(
        "horizontal",
        description="An aircraft with a fresh position but no known altitude (no Mode C, a stale "
                    "value, a primary-radar track): checked horizontally only and flagged "
                    "altitude_unknown in every event (horizontal, the safe default), or left out "
                    "of the separation check and counted (exclude)",
    )
    altitude_unknown_pair: list[AltitudeUnknownPair] = Field(
        default_factory=list, description="The altitude-unknown rule for given pairs of parties"
    )


class Line(_Strict):
    """`[line]`: what the service accepts from a party, so that one party's clock or
    traffic never hides, moves or drowns another's (issue 14)."""

    clock_skew_s: float = Field(
        2.0, ge=0, le=60,
        description="A report may be stamped at most this far ahead of the service's clock, s; it is "
                    "then taken as reported now (a later report is never older than it). Beyond: 422",
    )
    auto_distress_per_min: int = Field(
        10, ge=1, le=10_000,
        description="Automatic distress calls (emergency squawks, ADS-B emergency) one party's aircraft "
                    "may raise in any minute; the calls over it are collapsed into one event naming the count",
    )
    reports_per_s: float = Field(
        10_000, gt=0, le=1_000_000,
        description="Reports one party may send a second, on average (a token bucket refilled at this "
                    "rate); over it: 429 with Retry-After",
    )
    reports_burst: int = Field(
        50_000, ge=1, le=50_000,
        description="The bucket's size: the most reports one party may send at once; a larger batch: 422",
    )
    aircraft_live: int = Field(
        10_000, ge=1, le=1_000_000,
        description="Aircraft one party may have live at once (reported within the coast time); a batch "
                    "that would take it over: 429 with Retry-After",
    )
    messages_per_min: int = Field(
        600, ge=1, le=100_000,
        description="Messages (DISTRESS, NOTICE, REQUEST, RESPONSE) one party may send a minute, valid or "
                    "not (a token bucket); over it: 429 with Retry-After",
    )
    max_body_bytes: int = Field(
        16 * 1024 * 1024, ge=64 * 1024, le=64 * 1024 * 1024,
        description="Largest report body (REST) or WebSocket frame a party may send, bytes; a larger "
                    "one is refused (413) before it is read. Messages are held to 256 kB and acks to "
                    "4 kB whatever this says",
    )
    connections_per_address: int = Field(
        64, ge=1, le=100_000,
        description="Connections one client address may hold open at once (HTTP, SSE and WebSocket alike); "
                    "one more is answered 429 and closed before anything of it is read",
    )
    header_timeout_s: float = Field(
        10.0, gt=0, le=600,
        description="A request's headers must arrive whole within this many seconds of its first byte (or of "
                    "the connection); else 408 and the connection is closed",
    )
    body_timeout_s: float = Field(
        10.0, gt=0, le=600,
        description="A request body may pause at most this long between two reads, s; else 408 and the "
                    "connection is closed",
    )
    stall_timeout_s: float = Field(
        10.0, gt=0, le=600,
        description="A stream (WebSocket, SSE) or answer the client leaves unread for this long, its buffer "
                    "full, is dropped: WebSocket close 4408 or a last SSE comment, then the connection ends",
    )


PartyPair = tuple[PartyId, PartyId]

Ed25519Key = Annotated[
    str,
    Field(pattern=r"^[A-Za-z0-9+/]{43}=$", description="Raw 32-byte Ed25519 public key, base64"),
]


class RecordRules(_Strict):
    """`[record]`: who vouches for the record (issue 15): the log's key, each party's witness
    key, how many cosignatures make a checkpoint witnessed, and when a message addressed to
    a party must have reached that party's node."""

    origin: str = Field(
        "", max_length=200, pattern=r"^([^\s]+)?$",
        description="The checkpoints' origin line (a name without spaces); default: 'sharedsky/' and "
                    "the agreement's name in lower case with '-' for anything else",
    )
    log_key: Ed25519Key | None = Field(
        None, description="The service's signing key (`<db>.key`'s public half, `sharedsky keys log`): "
                          "offline proofs are checked against it")
    witnesses: dict[PartyId, Ed25519Key] = Field(
        default_factory=dict,
        description="Each party's witness key (`sharedsky keys witness P`), by party id")
    quorum: Literal["all"] | Annotated[int, Field(ge=1)] = Field(
        "all", description="Cosignatures that make a checkpoint witnessed: 'all' witnesses or k of them")
    deliver_within_s: float = Field(
        30.0, gt=0, le=86400,
        description="A message addressed to a party not delivered (cosigned by that party's witness) "
                    "within this raises a not_delivered event, s")
    checkpoint_every_s: float = Field(
        1.0, gt=0, le=1.0, description="How often a new checkpoint is signed while entries arrive, s")


class SuppressionVolume(_Strict):
    """`[[suppression.volume]]`: a volume where separation alerts between the given pairs
    of parties are suppressed (still recorded and counted, marked `suppressed`).

    Horizontally a polygon (`polygon`) or a circle (`centre` and `radius_nm`);
    vertically `lower_ft <= altitude < upper_ft`.
    """

    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
    name: str = ""
    pairs: list[PartyPair] = Field(
        default_factory=list,
        description="Pairs of parties whose encounters are suppressed here ([\"a\", \"a\"] for a "
                    "party's own pairs); empty or omitted: every pair",
    )
    polygon: list[tuple[float, float]] | None = Field(
        None, description="Closed ring of [lon, lat] (first point repeated last)"
    )
    centre: tuple[float, float] | None = Field(None, description="Circle centre [lon, lat], degrees")
    radius_nm: float | None = Field(None, gt=0, description="Circle radius, NM (with centre)")
    lower_ft: float = Field(
        -2000.0, description="Lowest altitude inside (inclusive), ft; default below every aerodrome"
    )
    upper_ft: float = Field(description="Altitude from which an aircraft is above the volume, ft")


class AerodromeSuppression(_Strict):
    """`[suppression.aerodromes]`: suppress separation alerts near the ground at aerodromes:
    within `radius_nm` of an aerodrome of the bundled list (airportsdata) and below
    `height_ft` above its elevation."""

    radius_nm: float = Field(gt=0, le=30, description="Distance from the aerodrome reference point, NM")
    height_ft: float = Field(gt=0, le=10000, description="Height above the aerodrome elevation, ft")
    aerodromes: Literal["icao", "all"] = Field(
        "icao",
        description="Which aerodromes count: icao (those with a four-letter ICAO location "
                    "indicator) or all (also strips with only a local or pseudo identifier)",
    )
    pairs: list[PartyPair] = Field(
        default_factory=list,
        description="Pairs of parties this rule applies to; empty or omitted: every pair",
    )


class Suppression(_Strict):
    """`[suppression]`: where separation alerts are suppressed (EUROCONTROL STCA practice):
    declared volumes and an aerodrome rule. A suppressed encounter is still recorded and
    counted, with `suppressed: true` and the reason in its events."""

    volume: list[SuppressionVolume] = Field(default_factory=list)
    aerodromes: AerodromeSuppression | None = None


class Purpose(_Strict):
    """One purpose a notified operation may declare, with its priority."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_-]*$", max_length=40)
    priority: int = Field(0, ge=0, le=100, description="Higher wins when two notified volumes conflict")


class Notices(_Strict):
    """`[notices]`: notified operations (4D volumes sent as NOTICE on the line), how they
    are checked against each other (strategic) and against flying aircraft (tactical)."""

    buffer_nm: float = Field(
        0.0, ge=0, le=100,
        description="Two parties' volumes conflict when closer than this horizontally (each is widened by "
                    "half), NM; 0: only volumes whose insides overlap",
    )
    buffer_ft: float = Field(0.0, ge=0, le=10000,
                             description="... and whose level bands are closer than this, ft")
    buffer_s: float = Field(0.0, ge=0, le=86400, description="... and whose times are closer than this, s")
    purposes: list[Purpose] = Field(
        default_factory=list,
        description="Purposes a notice may declare, each with a priority; empty: any purpose, priority 0",
    )
    max_volumes: int = Field(50, ge=1, le=100, description="Most volumes one notified operation may hold")
    exempt: list[PartyId] = Field(
        default_factory=list,
        description="Parties whose aircraft are not warned about other parties' active volumes (e.g. civil)",
    )
    horizon_s: float = Field(300.0, gt=0, description="How far ahead entries into active volumes are predicted, s")
    schedule: Schedule = Field(default_factory=Schedule,
                               description="Warnings before an aircraft enters another party's active volume")
Manoeuvre = Literal["track", "speed", "vertical"]


def _every_manoeuvre() -> list[Manoeuvre]:
    return ["track", "speed", "vertical"]


class ResolutionRule(_Strict):
    """`[[resolution.rule]]`: what a party's aircraft (or those of them whose callsign
    starts with one of `callsign_prefixes`) may be asked to do. Rules naming prefixes
    take precedence over a party's rule without; among those, the later one."""

    party: PartyId
    callsign_prefixes: list[Annotated[str, Field(min_length=1, max_length=8)]] = Field(
        default_factory=list, description="Callsign prefixes (case-insensitive); empty: every aircraft of the party"
    )
    manoeuvres: list[Manoeuvre] = Field(
        default_factory=_every_manoeuvre,
        description="Manoeuvres these aircraft accept (e.g. [\"track\"] for a tanker on its track)",
    )
    priority: int = Field(
        0, ge=-100, le=100,
        description="In a conflict, the aircraft of lower priority gives way; equal priorities both manoeuvre",
    )
    exempt: bool = Field(False, description="Never asked to manoeuvre (others keep clear of them)")
    tanker: bool = Field(
        False, description="Aircraft that refuel others: they, and aircraft of their party within "
                           "refuelling_nm and refuelling_ft of them, are never asked to manoeuvre",
    )


class Resolution(_Strict):
    """`[resolution]`: coordinated resolution advisories (issue 13): each aircraft that
    must give way in a predicted conflict is advised one manoeuvre, delivered to its
    party only; both parties compute the same advice from the same picture."""

    enabled: bool = Field(False, description="Compute and send resolution advisories")
    level: str | None = Field(
        None, description="Alert level whose minima and look-ahead are resolved against (default: the most severe)"
    )
    buffer: float = Field(
        1.1, ge=1.0, le=3.0, description="Resolve to the minima times this (margin for turns and noise)"
    )
    lead_s: float = Field(
        5.0, ge=0.0, le=60.0,
        description="Minimum lead time: an advised manoeuvre is judged as begun this long after it is "
                    "given (the crew's reaction), s",
    )
    same_party: bool = Field(
        False, description="Also advise between aircraft of one party (by default a party's own "
                           "aircraft are its own command's business, even where their pairs are checked)",
    )
    refuelling_nm: float = Field(1.0, gt=0, le=10, description="Receivers this close to a tanker are refuelling, NM")
    refuelling_ft: float = Field(1000.0, gt=0, le=5000, description="... and within this height of it, ft")
    rule: list[ResolutionRule] = Field(default_factory=list)


class DisclosureRule(_Strict):
    """What an observer party sees of other parties' aircraft (its own: always all)."""

    mode: Literal["all", "within", "conflict"] = Field(
        description="all; within within_nm (now or within within_s); only conflicts with own"
    )
    within_nm: float | None = Field(None, gt=0)
    within_s: float | None = Field(None, ge=0)


class Disclosure(DisclosureRule):
    """`[[disclosure]]`: the rule for some observer parties."""

    observers: list[PartyId] = Field(min_length=1)


class AgreementDocument(_Strict):
    """A sharedsky agreement (TOML). See docs/agreement.md."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        title="sharedsky agreement",
        json_schema_extra={"$id": "https://sharedsky.invalid/agreement.schema.json"},
    )

    agreement: AgreementInfo
    party: list[Party] = Field(min_length=1)
    minima_default: MinimaDefault = Field(default_factory=MinimaDefault)
    minima: list[PairMinima] = Field(default_factory=list)
    airspace: list[Airspace] = Field(default_factory=list)
    channels: Channels = Field(default_factory=Channels)
    alerting: Alerting = Field(default_factory=Alerting)
    line: Line = Field(default_factory=Line)
    suppression: Suppression = Field(default_factory=Suppression)
    record: RecordRules = Field(default_factory=RecordRules)
    notices: Notices = Field(default_factory=Notices)
    resolution: Resolution = Field(default_factory=Resolution)
    disclosure_default: DisclosureRule = Field(
        default_factory=lambda: DisclosureRule(mode="conflict")
    )
    disclosure: list[Disclosure] = Field(default_factory=list)


def json_schema() -> dict[str, Any]:
    """The JSON Schema of an agreement (published as docs/agreement.schema.json)."""
    schema = AgreementDocument.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema
