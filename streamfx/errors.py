"""Error types. Library code raises these; only the CLI turns them into messages and exit codes."""


class StreamfxError(Exception):
    """A failure the user can act on. The message is one line, shown as-is."""

    exit_code = 1


class UsageError(StreamfxError):
    """Bad arguments or paths given on the command line (exit code 2)."""

    exit_code = 2


class MediaError(StreamfxError):
    """A file that cannot be read or written as media (exit code 1)."""


class ModelError(StreamfxError):
    """Weights that are missing, corrupt or of the wrong architecture (exit code 1)."""


class EngineError(StreamfxError):
    """An inference engine that was asked for and cannot load or run (exit code 1)."""


class Interrupted(StreamfxError):
    """The run was stopped by SIGINT/SIGTERM; outputs were cleaned up (exit code 130)."""

    exit_code = 130
