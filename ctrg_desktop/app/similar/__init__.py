"""The "Similar cases" dock: the drafting model's nearest reference reports of a draft (no torch).

:mod:`.lookup` finds and loads the model's reference index and turns a draft's observations into
logits; :mod:`.chips` compares a reference's label statuses with the current report;
:mod:`.case_card` and :mod:`.panel` are the widgets; :mod:`.diff_dialog` shows a reference
against the report; :mod:`.controller` binds them to the window's draft and report document.
"""
