"""A tiny treebank for the SST tests (never the real data): shared by test_sst_data.py and test_sst.py.

Each line is a binarised PTB tree with a label 0..4 on every node; the samples hold the escapes the
reader must undo (-LRB-, ``\\/``, both quote styles) and a token with a no-break space.
"""
TRAIN = [
    "(3 (2 It) (4 (4 (2 's) (4 (2 a) (4 (3 lovely) (2 film)))) (2 .)))",
    "(1 (2 -LRB-) (1 (1 (2 the) (1 (1 dull) (2 \\/plot))) (2 -RRB-)))",
    "(0 (2 ``) (0 (0 awful) (2 '')))",
    "(2 (2 8\xa01\\/2) (2 film))",
]
DEV = ["(4 (2 a) (4 lovely))"]
TEST = ["(1 (1 dull) (2 Film))"]


def write_treebank(folder, train=TRAIN, dev=DEV, test=TEST):
    """Write train.txt, dev.txt, test.txt (one tree per line, UTF-8) into ``folder``; return it."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, lines in (("train", train), ("dev", dev), ("test", test)):
        (folder / f"{name}.txt").write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return folder
