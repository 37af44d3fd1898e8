"""The one exception type that reaches a user: a single sentence, no traceback."""


class SymgradError(ValueError):
    """Bad input or an impossible request, described in one sentence.

    The CLI prints ``str(error)`` alone; notebooks see an ordinary exception.
    """


# exit codes of the command-line tools (python -m symgrad.run, python -m symgrad.batch)
EXIT_FINISHED = 0  # the work finished
EXIT_FAILED = 1  # run: an internal error (traceback in a log file); batch: some items failed
EXIT_BAD_INPUT = 2  # bad input (config, data, model, output folder): one sentence on stderr
EXIT_INTERRUPTED = 130  # Ctrl-C or SIGTERM; what was finished is kept
