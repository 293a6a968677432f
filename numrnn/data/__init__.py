"""Data: what the experiments train on.

- :mod:`numrnn.data.tasks`: the synthetic long-dependency tasks (first element, adding, copy memory).
- :mod:`numrnn.data.text`: text streams for the character language model (and a seeded generator).
- :mod:`numrnn.data.sst`: the Stanford Sentiment Treebank: PTB-tree parser, vocabulary, batching of
  variable-length sentences, and a GloVe-format embedding loader.
"""
