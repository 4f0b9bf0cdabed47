"""Volume I/O: read CT studies in every supported format into one :class:`Volume`."""

from ctrg_desktop.io.volume import CANONICAL_DIRECTION, SeriesInfo, StudyMeta, Volume

__all__ = ["CANONICAL_DIRECTION", "SeriesInfo", "StudyMeta", "Volume"]
