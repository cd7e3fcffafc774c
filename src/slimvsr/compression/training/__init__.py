"""The training loop, its recipes and its tasks (flow, video SR, image SR)."""
