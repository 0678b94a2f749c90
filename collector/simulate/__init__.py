"""`kuzet simulate`: a physically plausible Almaty network (air, seismic, lakes) over MQTT.

Layers: pure generators per feed (`air`, `seismic`, `lake`) and wire forms (`payloads`);
scenarios and the two clocks (`scenario`); per-station schedules (`streams`); the MQTT
publisher (`publisher`) and the command line (`cli`).
"""

from __future__ import annotations

from collector.simulate.cli import add_simulate_arguments, run_simulate
from collector.simulate.publisher import SimOptions, SimulationReport, simulate
from collector.simulate.scenario import SCENARIOS, ScenarioEvent, ScenarioOptions
from collector.simulate.seismic import QuakeSource

__all__ = [
    "SCENARIOS",
    "QuakeSource",
    "ScenarioEvent",
    "ScenarioOptions",
    "SimOptions",
    "SimulationReport",
    "add_simulate_arguments",
    "run_simulate",
    "simulate",
]
