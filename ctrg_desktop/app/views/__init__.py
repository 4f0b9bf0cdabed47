"""Slice views, the 3D view and their layout."""
