"""Training: the sequence model around a cell, optimisers, the trainer, truncated BPTT, checkpoints."""
