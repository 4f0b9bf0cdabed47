"""``python -m ctrg_desktop`` starts the desktop app (same as ``ctrg-desktop``)."""

import sys

from ctrg_desktop.app.main import main

sys.exit(main())
