"""Measurements in the window: line and ellipse tools, their drawing, the Measurements dock, autosave."""
