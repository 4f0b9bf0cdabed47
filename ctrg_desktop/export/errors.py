"""The export package's user error."""

from ctrg_desktop.errors import CtrgError


class ExportError(CtrgError):
    """An export cannot be made: bad input, an unwritable target, or a DICOM export of a non-DICOM study."""
