"""Measurements drawn on the slices (no Qt here): labelled lines and ellipse ROIs with HU
statistics (:mod:`.model`, :mod:`.stats`, :mod:`.geometry`) and their file (:mod:`.files`)."""

from ctrg_desktop.measurements.model import (KINDS, Measurement, MeasurementError, MeasurementSet,
                                             make_measurement, value_rows)
from ctrg_desktop.measurements.stats import RegionStats, ellipse_mask, ellipse_stats

__all__ = ["KINDS", "Measurement", "MeasurementError", "MeasurementSet", "RegionStats", "ellipse_mask",
           "ellipse_stats", "make_measurement", "value_rows"]
