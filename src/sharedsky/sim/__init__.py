"""Fast-time simulation of rival air campaigns (and civil traffic) under an agreement.

`load_scenario` reads a scenario file, `run_scenario` flies it through the same engine
as live data and returns the traffic and metrics; `iter_report_batches` yields the
per-second reports a party would push to a running service.
"""

from sharedsky.sim.run import (
    SimResult,
    Simulation,
    iter_report_batches,
    run_scenario,
    write_recording,
)
from sharedsky.sim.scenario import Scenario, ScenarioError, load_scenario, loads_scenario

__all__ = [
    "Scenario",
    "ScenarioError",
    "SimResult",
    "Simulation",
    "iter_report_batches",
    "load_scenario",
    "loads_scenario",
    "run_scenario",
    "write_recording",
]
