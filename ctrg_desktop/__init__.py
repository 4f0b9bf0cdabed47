"""ctrg-desktop: chest CT viewer with structure-grounded report drafting.

The core (``io``, ``imaging``, ``data``, ``cli``) is pure Python + numpy/torch; only
``ctrg_desktop.app`` imports Qt or VTK.
"""

__version__ = "0.1.0"
