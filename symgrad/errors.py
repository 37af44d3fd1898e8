"""The one exception type that reaches a user: a single sentence, no traceback."""


class SymgradError(ValueError):
    """Bad input or an impossible request, described in one sentence.

    The CLI prints ``str(error)`` alone; notebooks see an ordinary exception.
    """
