"""User-facing errors: the CLI prints `autodata: error: <message>` on one line and exits 1."""


class UserError(Exception):
    """Bad input the user can fix (file, flag, config, corpus). Message says what to fix."""
