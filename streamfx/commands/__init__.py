"""One module per sub-command: `register(subparsers)` adds the parser and sets `run(args) -> int`."""
