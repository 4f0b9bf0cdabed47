"""DICOM files in a zip archive: headers read from the archive, pixels from a few extracted members.

Nothing is extracted to list or scan an archive: each member's header is parsed straight from
its compressed stream (a member that is not DICOM costs one short read, however large it
inflates). Only the image files of the series being read are then extracted, each checked
first against the limits of :mod:`ctrg_desktop.io.safety` (``CTRG_MAX_ZIP_MEMBER_MB``,
``CTRG_MAX_ZIP_RATIO``) and counted while it is copied.

They go to a private folder ``<temp>/ctrg-desktop-<user>/zip-<pid>-*`` (:func:`workspace`),
removed on every exit path; folders left by a process that was killed (its pid no longer
runs) are removed by the next zip read.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
import time
import zipfile
import zlib
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from ctrg_desktop.errors import NotDicomError, StudyReadError
from ctrg_desktop.io.dicom_scan import DicomHeader, ScanResult, read_header_from
from ctrg_desktop.io.progress import Reporter
from ctrg_desktop.io.safety import (MAX_ZIP_MEMBER_ENV, MAX_ZIP_RATIO_ENV, MIB, ZIP_RATIO_EXEMPT_BYTES,
                                    max_zip_member_bytes, max_zip_ratio, mib)
from ctrg_desktop.processes import pid_exists

_COPY_CHUNK = MIB
_STALE_WITHOUT_PID_S = 7 * 24 * 3600  # where processes cannot be checked (Windows): a week
_ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError, zlib.error,
               RuntimeError, ValueError)


def is_candidate_member(info: zipfile.ZipInfo) -> bool:
    """False for folders, ``__MACOSX/`` resource forks, ``._*`` AppleDouble files and DICOMDIR."""
    name = info.filename
    base = name.rsplit("/", 1)[-1]
    return not (info.is_dir() or name.startswith("__MACOSX/") or "/__MACOSX/" in name
                or base.startswith("._") or base.upper() == "DICOMDIR")


def scan_zip(archive: str | os.PathLike, reporter: Reporter | None = None) -> ScanResult:
    """The DICOM headers of ``archive``'s members (read from the archive, nothing extracted).

    Headers have ``path == ""`` and ``member`` set until :func:`extract_members` extracts them;
    their display names read ``archive.zip!member``.
    """
    result = ScanResult()
    try:
        with zipfile.ZipFile(archive) as zf:
            members = [info for info in zf.infolist() if is_candidate_member(info)]
            for n, info in enumerate(members):
                if reporter is not None:
                    reporter(n, len(members), "reading DICOM headers in the zip archive")
                display = f"{archive}!{info.filename}"
                try:
                    with zf.open(info) as fp:
                        header = read_header_from(fp, info.file_size, "", display)
                except NotDicomError:
                    result.skipped.append(display)
                    continue
                except _ZIP_ERRORS as exc:
                    raise StudyReadError(f"{display} cannot be read from the archive "
                                         f"({' '.join(str(exc).split()) or type(exc).__name__})") from exc
                header.member = info
                result.headers.append(header)
    except _ZIP_ERRORS as exc:
        raise StudyReadError(f"{archive} is not a readable zip archive ({exc})") from exc
    return result


def check_member(info: zipfile.ZipInfo, display: str) -> None:
    """StudyReadError when a member would inflate beyond the size or compression-ratio limits."""
    limit = max_zip_member_bytes()
    if info.file_size > limit:
        raise StudyReadError(f"{display} inflates to {mib(info.file_size)}, over the {mib(limit)} "
                             f"limit for one archive member ({MAX_ZIP_MEMBER_ENV} raises it)")
    ratio = info.file_size / max(info.compress_size, 1)
    if info.file_size > ZIP_RATIO_EXEMPT_BYTES and ratio > max_zip_ratio():
        raise StudyReadError(f"{display} inflates {ratio:,.0f}-fold ({info.compress_size} to "
                             f"{info.file_size} bytes), over the {max_zip_ratio():g}-fold limit for "
                             f"archive members: a zip bomb or not a DICOM file ({MAX_ZIP_RATIO_ENV} "
                             "raises it)")


def extract_members(archive: str | os.PathLike, headers: list[DicomHeader], dest: str | os.PathLike,
                    reporter: Reporter | None = None) -> None:
    """Extract the members behind ``headers`` into ``dest`` and point each ``header.path`` there."""
    limit = max_zip_member_bytes()
    try:
        with zipfile.ZipFile(archive) as zf:
            for n, header in enumerate(headers):
                if reporter is not None:
                    reporter(n, len(headers), "extracting the series from the zip archive")
                info = header.member
                check_member(info, header.display)
                target = os.path.join(dest, f"{n:06d}.dcm")
                copied = 0
                with zf.open(info) as src, open(target, "wb") as out:
                    while chunk := src.read(_COPY_CHUNK):
                        copied += len(chunk)
                        if copied > limit:  # zipfile stops at the declared size; this is a backstop
                            raise StudyReadError(f"{header.display} inflates beyond the "
                                                 f"{mib(limit)} limit for one archive member")
                        out.write(chunk)
                header.path = target
    except _ZIP_ERRORS as exc:
        raise StudyReadError(f"{archive} cannot be extracted ({' '.join(str(exc).split())})") from exc


@contextmanager
def workspace() -> Iterator[Path]:
    """A private temporary folder, removed on exit (see module docstring)."""
    root = _root()
    if root is not None:
        _remove_stale(root)
        folder = tempfile.mkdtemp(prefix=f"zip-{os.getpid()}-", dir=root)
    else:
        folder = tempfile.mkdtemp(prefix="ctrg-zip-")
    try:
        yield Path(folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def workspace_root() -> Path:
    """Where :func:`workspace` creates its folders (when that folder is usable)."""
    user = str(os.getuid()) if hasattr(os, "getuid") else os.environ.get("USERNAME", "user")
    return Path(tempfile.gettempdir()) / f"ctrg-desktop-{user}"


def _root() -> Path | None:
    """:func:`workspace_root`, created private; None when it is not ours (e.g. a planted link)."""
    root = workspace_root()
    try:
        root.mkdir(mode=0o700, exist_ok=True)
        info = os.lstat(root)
    except OSError:
        return None
    if not stat.S_ISDIR(info.st_mode) or (hasattr(os, "getuid") and info.st_uid != os.getuid()):
        return None
    return root


def _remove_stale(root: Path) -> None:
    """Remove ``zip-<pid>-*`` folders whose process no longer runs (killed before cleaning up)."""
    try:
        entries = list(root.iterdir())
    except OSError:
        return
    for entry in entries:
        parts = entry.name.split("-")
        if len(parts) < 3 or parts[0] != "zip" or not parts[1].isdigit():
            continue
        if _stale(int(parts[1]), entry):
            shutil.rmtree(entry, ignore_errors=True)


def _stale(pid: int, entry: Path) -> bool:
    if pid == os.getpid():
        return False
    if os.name != "posix":
        try:
            return time.time() - entry.stat().st_mtime > _STALE_WITHOUT_PID_S
        except OSError:
            return False
    return not pid_exists(pid)
