"""python -m numrnn: the command line of numrnn.cli."""
import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
