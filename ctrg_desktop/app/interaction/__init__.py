"""Viewer state shared by the views, and the mouse/keyboard tools."""
