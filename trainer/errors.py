"""One exception tree, so callers (CLI, GUI) can catch ``MusicSimError`` and show one line."""


class MusicSimError(Exception):
    """Base of every error the engine raises on purpose; its message is meant for the user."""


class ParameterError(MusicSimError, ValueError):
    """A bad argument: unknown model, distance, scaler or device, a malformed CSV, a bad path."""


class AudioError(MusicSimError):
    """A file could not be decoded into usable audio; the message says why."""


class ModelError(MusicSimError):
    """A model folder is missing, malformed, or does not match what it is used with."""


class StorageError(MusicSimError):
    """The data folder cannot be written (disk full, read-only); finished work is kept."""


class LibraryBusyError(MusicSimError):
    """Another process holds the library index for writing."""


class Cancelled(MusicSimError):
    """A long job stopped because its caller asked it to."""


class NothingIndexed(MusicSimError):
    """A command that reads the index's embeddings found none for its model."""

    def __init__(self, model: str, asked: str) -> None:
        from .safetext import shown

        super().__init__(
            f"no songs are indexed with model '{shown(model)}'; "
            f"run 'musicsim index DIR --model {shown(asked)}' first"
        )
