"""The worker processes' side of the GUI's drafting and segmenting (no Qt): the GUI process
talks to them over a pipe and never loads torch; these loops import it in the child only.

The parent-side handles (spawning, cancelling) are :mod:`ctrg_desktop.app.drafting.process` and
:mod:`ctrg_desktop.app.segment.process`.
"""
