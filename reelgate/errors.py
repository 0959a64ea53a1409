"""The one exception tree of reelgate.

Three families are kept apart, because each is handled differently:

    ReelgateError
    ├── TransientError        a fault that may pass: retried by the Prefect task
    │   ├── BackendUnavailable  a service or device is busy or unreachable
    │   └── EnhanceFailed       an enhancement pass failed on a shot: retried once, then the
    │                           shot goes on unenhanced with the reason shown to the reviewer
    ├── InputError            bad input or configuration: never retried; the message
    │   │                     says what to change
    │   ├── ConfigError         a setting is wrong (names the setting)
    │   │   └── UnknownBackendError  a backend name is not registered (names the setting, lists
    │   │                            the known ones; see reelgate.registry)
    │   ├── ModelNotFoundError  weights are not where the settings say (says how to provide them)
    │   ├── OutOfMemory         a generation does not fit even with memory savers (says what to lower)
    │   ├── MediaError          a media file is unreadable, empty or malformed
    │   ├── StaleDecision       a review decision names a version no longer at the gate (reload, decide again)
    │   ├── NotAllowed          the reviewer may view this episode but not decide it
    │   └── EpisodeConflict     an episode id already holds another request (--replace starts over)
    ├── PublishRefused        publishing was asked for without a recorded human approval
    └── RewriteFailed         the language-model rewriter's reply is unusable (timeout, malformed,
                              hostile, a screened field): the planner catches it and falls back
                              to the rules with its `reason`; it never leaves planning

Content decisions (a blocked prompt, a shot sent to review) are *not* exceptions: they
are results with reasons (see `reelgate.records.Verdict`), never retried and never a crash.
"""

from __future__ import annotations


class ReelgateError(Exception):
    """Base of every error reelgate raises on purpose."""


class TransientError(ReelgateError):
    """A fault that may pass on its own (network, busy device): safe to retry."""


class BackendUnavailable(TransientError):
    """A backend service or device is busy or unreachable right now."""


class EnhanceFailed(TransientError):
    """An enhancement pass failed on a shot (ffmpeg, a learned backend); never blocks the episode."""


class InputError(ReelgateError):
    """Bad input or configuration. The message says what to change; never retried."""


class ConfigError(InputError):
    """A setting has a value reelgate cannot use."""


class UnknownBackendError(ConfigError):
    """A backend name that is not registered (reelgate.registry): a setting names a backend that does not exist."""

    def __init__(self, kind: str, name: str, known: list[str], setting: str = "") -> None:
        where = f" ({setting})" if setting else ""
        super().__init__(
            f"unknown {kind} backend {name!r}{where}; known {kind} backends: {', '.join(sorted(known))}"
        )
        self.kind, self.name, self.known, self.setting = kind, name, known, setting


class ModelNotFoundError(InputError):
    """Model weights are not available locally (and there is no hub here to fetch them)."""


class OutOfMemory(InputError):
    """A generation ran out of memory even after a retry with every memory saver on."""


class MediaError(InputError):
    """A media file cannot be read, is empty, or is not what it claims to be."""


class StaleDecision(InputError):
    """A review decision was made on a version that is no longer the one waiting at the gate.

    Nothing is recorded but the refusal: the reviewer reloads and decides on what is there now.
    """


class NotAllowed(InputError):
    """The authenticated reviewer may view the episode but is not among those who decide it."""


class EpisodeConflict(InputError):
    """An episode id already holds a different request; `--replace` is the deliberate way over it."""


class PublishRefused(ReelgateError):
    """Publishing was asked for, but the manifest holds no recorded human approval."""


class RewriteFailed(ReelgateError):
    """The rewriter (prompts/rewriter.py) could not be used for this story; `reason` says why.

    Not retried and not a crash: the rules plan the story instead and the reason is kept.
    The reason never holds the endpoint's key.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def is_retryable(exc: BaseException) -> bool:
    """Retry condition for Prefect tasks: only transient faults are retried."""
    return isinstance(exc, TransientError)
