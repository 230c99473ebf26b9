"""Builds or updates the index from corpus/: `python ingest.py [--json] [--rebuild]`."""

import sys

from assistant.app.cli import main

if __name__ == "__main__":
    sys.exit(main(["ingest", *sys.argv[1:]]))
