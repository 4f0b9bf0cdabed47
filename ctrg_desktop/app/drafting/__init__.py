"""Report drafting in the app: the worker process, the Report and Structures docks, the
evidence overlays (attention heat maps and top-K patch boxes) and the menus that drive them."""
