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


def check_format(data, fmt: str, version: int, what: str) -> None:
    """Refuse (``CtrgError``) ``data`` that is not a dict with ``"format": fmt`` or whose
    ``format_version`` is newer than ``version``; ``what`` names it ("report.json is a ctrg draft report")."""
    if not isinstance(data, dict) or data.get("format") != fmt:
        raise CtrgError(f"{what.replace(' is a ', ' is not a ', 1)} (no \"format\": \"{fmt}\")")
    if int(data.get("format_version", 0)) > version:
        raise CtrgError(f"{what} of format {data['format_version']}, newer than this ctrg reads ({version}): "
                        "update ctrg-desktop")
