"""Evaluation: the rule-based CT-RATE labeller (clinical efficacy) and, later, NLG/retrieval metrics."""
