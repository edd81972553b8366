"""Fakes and generators shipped with Vigil for tests, demos and benchmarks."""

from vigil.testing.clock import FakeClock
from vigil.testing.storm import StormRequest, generate_storm, storm_summary

__all__: list[str] = ["FakeClock", "StormRequest", "generate_storm", "storm_summary"]
