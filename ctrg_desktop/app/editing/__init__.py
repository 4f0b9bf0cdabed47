"""Correcting, exporting and accepting the drafted report in the window (``window.editing``)."""
