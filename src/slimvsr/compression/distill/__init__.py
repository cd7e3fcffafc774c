"""Prune-then-distil for EDSR and SwinIR: OBProx-SG sparsification and compact sizing
(``algorithm``) and the sparsify -> size -> distil pipeline (``pipeline``)."""
