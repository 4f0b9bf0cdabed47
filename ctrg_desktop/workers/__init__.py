"""The worker processes behind the GUI's drafting and segmenting (no Qt): the GUI process talks
to them over a pipe and never loads torch; the handlers import it in the child only.

- :mod:`.process` -- the parent-side base (spawn, "ready", request and answers, cancel, stop) and
  the child's entry; the protocol is written there;
- :mod:`.pipe` -- the child's request loop, masks packed to bits, errors as one line;
- :mod:`.shared` -- a study's voxels through shared memory;
- :mod:`.drafting`, :mod:`.segmenting` -- the two workers' handlers.

Their parent-side handles are :mod:`ctrg_desktop.app.drafting.process` and
:mod:`ctrg_desktop.app.segment.process`; the Qt side runs them with :mod:`ctrg_desktop.app.jobs`.
"""
