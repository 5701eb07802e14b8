"""The one error hierarchy of zhibu-qa.

The library raises these with messages that name the bad value and the valid options; only the
CLI and the UI turn them into user-facing text and exit codes.
"""


class ZhibuError(Exception):
    """Base class of every error a user can cause or fix."""


class ConfigError(ZhibuError):
    """A bad setting, unknown backend name or unreadable config file."""


class IngestError(ZhibuError):
    """A source file cannot be read or parsed (missing, empty, binary, undecodable, no text layer)."""


class ModelError(ZhibuError):
    """The embedding model is missing, corrupt or cannot be fetched."""


class IndexMissingError(ZhibuError):
    """No index (or catalogue) has been built yet."""


class IndexMismatchError(ZhibuError):
    """The index on disk was built with another model or chunker; it must be rebuilt."""


class BackendUnavailableError(ZhibuError):
    """A remote backend (OpenAI-compatible endpoint) cannot be reached or answered badly."""


class GenerationError(ZhibuError):
    """A model reply is malformed or cannot be used."""


class InputError(ZhibuError):
    """A user input is empty, too long or otherwise unusable."""


class DatasetError(ZhibuError):
    """An evaluation dataset has problems; `problems` lists each with its line number."""

    def __init__(self, message: str, problems: list[str] | None = None):
        super().__init__(message)
        self.problems = list(problems or [])


class IndexDamagedError(IndexMismatchError):
    """A catalogue, source text or index file fails its checksum or cannot be read."""


class LockTimeoutError(ZhibuError):
    """Another process holds the index directory's writer lock for too long."""


class RunCancelled(ZhibuError):
    """A long run (a benchmark) was stopped on request after `done` of `total` steps."""

    def __init__(self, message: str, done: int = 0, total: int = 0):
        super().__init__(message)
        self.done, self.total = done, total
