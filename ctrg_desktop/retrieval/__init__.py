"""Similar prior cases (seed REVTAF): a learnable retriever of reference reports and their index.

numpy only: :mod:`.hyperbolic` (Poincaré-ball arithmetic), :mod:`.status` (72-value label-status
vectors), :mod:`.projection` (the trained projection applied without torch), :mod:`.index`
(:class:`~.index.ReferenceIndex`, :class:`~.index.Neighbour`, the user's corrections),
:mod:`.thumbnail` (key slices), :mod:`.arrays_file` (the versioned ``.npz`` + JSON format).
torch, imported lazily: :mod:`.retriever` and :mod:`.hyperbolic_torch` (training), :mod:`.build`
(encoding studies, :func:`~.build.build_index`), :mod:`.similar` (one study's similar cases).
:mod:`.cli`: ``ctrg retrieval train|index|neighbours`` and ``ctrg similar``.
"""
