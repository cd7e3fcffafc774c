"""Structured Sparsity Learning for BasicVSR: unit selection and pruning (``selection``) and the
regularise -> prune -> fine-tune pipeline (``pipeline``)."""
