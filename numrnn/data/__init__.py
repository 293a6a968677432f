"""Datasets for the real-data experiments.

- :mod:`numrnn.data.sst` — the Stanford Sentiment Treebank: PTB-tree parser, vocabulary, batching
  of variable-length sentences, and a GloVe-format embedding loader.
"""
