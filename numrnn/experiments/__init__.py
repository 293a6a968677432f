"""Experiment drivers behind the ``numrnn`` command: reproduce, figures, sst, charlm, demo."""
