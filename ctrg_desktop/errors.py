"""Errors the core raises for bad input; the CLI prints them as one line, the GUI shows them."""


class CtrgError(Exception):
    """Base class: a problem with the user's input, explained in one readable sentence."""


class StudyReadError(CtrgError):
    """A study (file, folder, zip) cannot be read as a CT volume."""


class NotDicomError(StudyReadError):
    """A file that should be DICOM is not."""


class TruncatedFileError(StudyReadError):
    """A file ends before its pixel data does."""


class UnsupportedModalityError(StudyReadError):
    """The series is not CT (e.g. MR, CR, SR)."""


class InconsistentSeriesError(StudyReadError):
    """Slices of one series disagree (sizes, orientation, spacing) beyond repair."""


class MultipleSeriesError(StudyReadError):
    """A folder holds several series and none was chosen; ``series`` lists them."""

    def __init__(self, message: str, series: list | None = None):
        super().__init__(message)
        self.series = series or []


class DemoDataError(CtrgError):
    """The demo study cannot be fetched or verified."""


class LoadCancelled(CtrgError):
    """The user cancelled a study load (the ``cancel`` callback returned True)."""


class StudyWriteError(CtrgError):
    """A volume cannot be written in the requested DICOM form (e.g. no encoder installed)."""
