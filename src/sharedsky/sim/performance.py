"""Aircraft types and the performance the simulator flies them with.

A small table of public figures, rounded; each type says where its numbers come from.
The simulator never exceeds a type's `max_kt`, `climb_fpm`, `descent_fpm` or `bank_deg`
(the tests measure this from the recorded traffic). Speeds are true airspeeds, flown as
ground speeds (the simulator has no wind). `climb_fpm`/`descent_fpm` are the rates used
in operations, well below the record climb rates of fighters; `bank_deg` is the bank of
a normal turn (turn rate = g tan(bank) / V), not the structural limit.

Sources: USAF fact sheets (af.mil) for the F-16C, F-15E, KC-135R, E-3 and MQ-9;
manufacturers' published figures (Sukhoi/UAC, Dassault, Panavia) for the Su-24M,
Su-34, Su-30SM, Tu-22M3, Il-76MD, Rafale and Tornado GR4; EUROCONTROL's Aircraft
Performance Database (contentzone.eurocontrol.int/aircraftperformance) for the A320,
B738 and A333 (climb and descent rates there are typical en-route values).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any


@dataclass(frozen=True)
class AircraftType:
    """Performance of one type: speeds in kt, rates in ft/min, bank in degrees."""

    code: str
    name: str
    cruise_kt: float
    max_kt: float
    climb_fpm: float
    descent_fpm: float
    bank_deg: float
    accel_kt_s: float
    ceiling_ft: float
    approach_kt: float
    source: str = ""

    def __post_init__(self) -> None:
        for f in ("cruise_kt", "max_kt", "climb_fpm", "descent_fpm", "accel_kt_s",
                  "ceiling_ft", "approach_kt"):
            if not getattr(self, f) > 0:
                raise ValueError(f"aircraft type {self.code}: {f} must be positive")
        if not 0 < self.bank_deg < 80:
            raise ValueError(f"aircraft type {self.code}: bank_deg must be in (0, 80)")
        if self.cruise_kt > self.max_kt or self.approach_kt > self.max_kt:
            raise ValueError(f"aircraft type {self.code}: cruise_kt/approach_kt above max_kt")

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    def with_changes(self, **changes: Any) -> AircraftType:
        return AircraftType(**{**{f: getattr(self, f) for f in self.field_names()}, **changes})


_AF = "USAF fact sheet (af.mil)"

#: Built-in types. A scenario may override fields or add types of its own.
TYPES: dict[str, AircraftType] = {
    t.code: t
    for t in (
        # Fighters and strike aircraft: Mach 2 class top speeds at altitude.
        AircraftType("F16", "General Dynamics F-16C", 480, 1146, 20000, 10000, 45, 6.0,
                     50000, 160, f"{_AF}: speed 1,500 mph (Mach 2) at altitude, ceiling 50,000 ft"),
        AircraftType("F15E", "Boeing F-15E Strike Eagle", 480, 1434, 20000, 10000, 45, 6.0,
                     50000, 160, f"{_AF}: speed 1,875 mph (Mach 2.5+), ceiling 50,000 ft"),
        AircraftType("RFAL", "Dassault Rafale M", 480, 1030, 18000, 10000, 45, 6.0,
                     50000, 140, "Dassault Aviation: Mach 1.8, service ceiling 50,000 ft"),
        AircraftType("TOR", "Panavia Tornado GR4", 450, 800, 12000, 8000, 40, 5.0,
                     50000, 160, "Panavia/RAF: Mach 1.3 at altitude, ceiling 50,000 ft"),
        AircraftType("SU24", "Sukhoi Su-24M", 460, 918, 12000, 8000, 40, 5.0,
                     36000, 170, "Sukhoi: 1,700 km/h at altitude, service ceiling 11,000 m"),
        AircraftType("SU34", "Sukhoi Su-34", 470, 1026, 15000, 9000, 40, 5.0,
                     49000, 160, "Sukhoi/UAC: 1,900 km/h at altitude, ceiling 15,000 m"),
        AircraftType("SU30", "Sukhoi Su-30SM", 480, 1145, 20000, 10000, 45, 6.0,
                     56000, 150, "Irkut/UAC: 2,120 km/h at altitude, ceiling 17,250 m"),
        AircraftType("TU22", "Tupolev Tu-22M3", 490, 1080, 6000, 5000, 30, 3.0,
                     43000, 170, "Tupolev: 2,300 km/h at altitude, ceiling 13,300 m"),
        # Support aircraft.
        AircraftType("K35R", "Boeing KC-135R Stratotanker", 420, 460, 2500, 3000, 25, 1.5,
                     50000, 160, f"{_AF}: speed 530 mph at 30,000 ft, ceiling 50,000 ft"),
        AircraftType("E3", "Boeing E-3 Sentry (AWACS)", 320, 460, 2500, 3000, 25, 1.5,
                     29000, 150, f"{_AF}: optimum cruise 360 mph, ceiling above 29,000 ft"),
        AircraftType("IL76", "Ilyushin Il-76MD", 430, 460, 1800, 2500, 25, 1.2,
                     42000, 150, "Ilyushin: cruise 750-800 km/h, ceiling 12,000 m"),
        AircraftType("MQ9", "General Atomics MQ-9 Reaper", 170, 240, 1000, 1500, 20, 1.0,
                     50000, 100, f"{_AF}: cruise 230 mph, ceiling 50,000 ft"),
        # Civil airliners.
        AircraftType("A320", "Airbus A320", 450, 470, 2500, 3000, 25, 1.0,
                     39000, 150, "EUROCONTROL Aircraft Performance Database: cruise M0.78, MMO 0.82"),
        AircraftType("B738", "Boeing 737-800", 453, 473, 2500, 3000, 25, 1.0,
                     41000, 155, "EUROCONTROL Aircraft Performance Database: cruise M0.785, MMO 0.82"),
        AircraftType("A333", "Airbus A330-300", 470, 490, 2000, 2500, 25, 1.0,
                     41000, 145, "EUROCONTROL Aircraft Performance Database: cruise M0.82, MMO 0.86"),
    )
}
