"""Autosave: round trip, pending sessions, damaged files, and a writer killed with SIGKILL mid-save."""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from ctrg_desktop.errors import CtrgError
from ctrg_desktop.io.volume import StudyMeta
from ctrg_desktop.reports.autosave import AutosaveStore, default_autosave_dir, study_key
from ctrg_desktop.reports.document import ReportDocument
from tests.corrections.drafts import make_draft

ROOT = Path(__file__).resolve().parents[2]


def test_save_recover_pending_discard(tmp_path):
    store = AutosaveStore(tmp_path / "autosave")
    doc = ReportDocument.from_draft(make_draft(), study_key="abc123")
    sid = doc.add_sentence("lung", "Mild emphysema.")
    doc.edit_text(sid, "Moderate emphysema.")
    doc.undo()
    path = store.save("abc123", doc, label="Study 1", extra={"series": 2})
    assert path == tmp_path / "autosave" / "abc123.json"
    assert [p.name for p in path.parent.iterdir()] == ["abc123.json"]  # no temp file left behind
    recovered = store.recover("abc123")
    assert recovered == doc and recovered.can_redo and recovered.redo_label == "edit sentence"
    assert store.recover("other") is None
    [session] = store.pending()
    assert (session.study_key, session.label, session.revision, session.modified, session.extra) == \
        ("abc123", "Study 1", 3, True, {"series": 2})
    assert not store.save_if_changed("abc123", doc)
    doc.redo()
    assert store.save_if_changed("abc123", doc)
    assert store.discard("abc123") and not store.discard("abc123")
    assert store.pending() == [] and store.recover("abc123") is None


def test_bad_keys_and_damaged_files(tmp_path):
    store = AutosaveStore(tmp_path)
    doc = ReportDocument.from_draft(make_draft())
    for key in ("../escape", "a/b", "", ".hidden", "x" * 200):
        with pytest.raises(CtrgError, match="bad autosave study key"):
            store.save(key, doc)
    store.save("good", doc)
    (tmp_path / "torn.json").write_text('{"format": "ctrg-autosave", "docu')
    with pytest.raises(CtrgError, match="damaged"):
        store.load("torn")
    payload = json.loads((tmp_path / "good.json").read_text())
    payload["document"]["structures"][2]["sentences"][0]["text"] = "Tampered."
    (tmp_path / "bad.json").write_text(json.dumps(payload))
    with pytest.raises(CtrgError, match="checksum"):
        store.recover("bad")
    old = tmp_path / ".good.json.x1y2.tmp"
    old.write_text("{")
    os.utime(old, (time.time() - 3600,) * 2)
    assert [s.study_key for s in store.pending()] == ["good"]  # damaged files skipped
    assert not old.exists()  # a stale temp file of a killed save is removed


def test_default_folder_and_study_key(tmp_path, monkeypatch, phantom_study):
    monkeypatch.setenv("CTRG_STATE_DIR", str(tmp_path))
    assert default_autosave_dir() == tmp_path / "autosave"
    monkeypatch.delenv("CTRG_STATE_DIR")
    assert default_autosave_dir().name == "autosave" and "ctrg-desktop" in str(default_autosave_dir())
    volume = phantom_study.volume.with_array(phantom_study.volume.array,
                                             meta=StudyMeta(patient_name="DOE^JANE", study_instance_uid="1.2.3"))
    key = study_key(volume)
    assert key == study_key(volume) and len(key) == 24 and AutosaveStore(tmp_path).path_for(key)
    assert "DOE" not in key.upper() and "1.2.3" not in key
    assert study_key(volume.with_array(volume.array, origin=(1.0, 2.0, 3.0))) != key


CHILD = r"""
import sys
from ctrg_desktop.reports.autosave import AutosaveStore
from ctrg_desktop.reports.document import ReportDocument
from tests.corrections.drafts import make_draft

store = AutosaveStore(sys.argv[1])
doc = ReportDocument.from_draft(make_draft())
for n in range(400):                      # a large state, so that much of the time goes into writing it
    doc.add_sentence(n % 10, f"Padding sentence number {n} " + "with more words " * 20)
sid = doc.structure("lung").sentences[0].id
print("ready", doc.revision, flush=True)
n = 0
while True:
    n += 1
    doc.edit_text(sid, f"Edit number {n}.")
    store.save("study", doc)
    print(doc.revision, flush=True)
"""


def _run_and_kill(folder: Path, saves_before_kill: int, extra_delay: float) -> list[int]:
    """Start the writer and SIGKILL it once it reported ``saves_before_kill`` saves (+ ``extra_delay`` s).

    Returns the revisions whose save the writer reported finished."""
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(folder)], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    enough = threading.Event()

    def read():
        for line in proc.stdout:
            lines.append(line.strip())
            if len(lines) > saves_before_kill:
                enough.set()
        enough.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert enough.wait(60), "the writer did not start"
        time.sleep(extra_delay)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    reader.join(10)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read()
    assert lines and lines[0].startswith("ready")
    return [int(x) for x in lines[1:]]


@pytest.mark.parametrize("saves, delay", [(3, 0.0), (10, 0.013), (25, 0.031)])
def test_sigkill_while_saving_leaves_a_complete_recent_state(tmp_path, saves, delay):
    folder = tmp_path / "autosave"
    reported = _run_and_kill(folder, saves, delay)
    assert len(reported) >= saves
    store = AutosaveStore(folder)
    payload = store.load("study")  # complete, valid JSON with a matching checksum: never a torn file
    doc = ReportDocument.from_json(payload["document"])
    base = 400  # revisions used by the padding sentences
    # every edit up to the last save the writer finished is there; at most the one in flight on top
    assert reported[-1] <= doc.revision <= reported[-1] + 1
    assert doc.revision == payload["revision"]
    assert doc.structure("lung").sentences[0].text == f"Edit number {doc.revision - base}."
    assert len(doc.history.done) == doc.revision
    assert [s.study_key for s in store.pending()] == ["study"]
