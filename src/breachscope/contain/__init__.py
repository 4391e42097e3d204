"""Containment plans from the incident (`plan.build_plan`) and their renderings in a device's own syntax
(`formats.FORMATS`). Imports the model only: the plan is a pure function of the incident."""
