"""The GUI can load and query a reference index with numpy alone: no torch is imported."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_loading_and_querying_an_index_imports_no_torch(small_index, tmp_path):
    path = small_index.save(tmp_path / "reference_index.npz")
    code = (
        "import sys, numpy as np\n"
        "import ctrg_desktop.retrieval, ctrg_desktop.retrieval.similar, ctrg_desktop.retrieval.cli\n"
        "from ctrg_desktop.retrieval.index import ReferenceIndex\n"
        "from ctrg_desktop.retrieval.similar import label_agreement\n"
        f"index = ReferenceIndex.load({str(path)!r}, user_dir={str(tmp_path / 'user')!r})\n"
        "found = index.query(np.zeros(18), k=2)\n"
        "index.add_correction('rec-1', 'Cardiomegaly is seen.', np.ones(18))\n"
        "assert len(found) == 2 and len(index) == 9\n"
        "label_agreement(np.zeros(18, bool), found[0].statuses)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'PySide6', 'vtk'))\n"
        "print(bad)\n"
        "sys.exit(1 if bad else 0)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr[-2000:]
