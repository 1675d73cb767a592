"""One module per `autodata` subcommand. Each exposes `register(subparsers)`, which adds its
parser and sets `func` to the one function the subcommand calls."""
