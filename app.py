"""Serves the chat: `python app.py`, then open http://127.0.0.1:7860 (ASSISTANT_HOST, ASSISTANT_PORT)."""

import sys

from assistant.app.cli import main

if __name__ == "__main__":
    sys.exit(main(["serve", *sys.argv[1:]]))
