"""Dock panels: overlay layer list, series browser."""
