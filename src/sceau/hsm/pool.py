"""A pool of sessions on one token, logged in once.

PKCS#11 logs in an application, not a session: once one session has logged
in, every session the process opens on that token may use its private keys,
until the last one closes. The pool therefore logs in once, with its first
session, and opens the others without a PIN; a signature borrows an idle
session, and pays neither a login nor an open (``logins`` counts the
logins, for the tests and for ``sceau hsm status``).

A session that breaks on its own (closed, its handle gone) is dropped and
another opened; when every try ends so, the module is reset as below. Any
other failure of the token sends the module through a reset and the
operation is tried once more; if that fails too, the caller gets
``HsmUnavailable`` (503), and for ``quiet_seconds`` (one second) the pool
answers so at once, without touching the module, before it tries the token
again. So a token that comes back serves the next request after that
second, with no restart.

A key missing while the session is still logged in, and the token still
showing other private keys, is not a failure of the token: that one request
gets ``SigningKeyMissing`` (503 ``cle_de_signature_introuvable``, a long
Retry-After), logged ``hsm.key_missing`` (an operator's matter: a key
deleted from the token, or a row naming a key of another token), with no
reset and no pause for the others. When the
login is gone, the keys are invisible and the pool resets and logs in again;
a key the process has signed with before and no longer finds gets one reset
and one more try first (a module's view of a token that went away and came
back can be stale), then fails its request alone.

A refused PIN is not tried again until its source gives another one (the
PIN file rewritten, or another process started with another PIN): a token
locks its PIN after a few failures. Until then every request answers 503
without touching the token.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pkcs11
from pkcs11 import Attribute, ObjectClass

from sceau.errors import ConfigurationError
from sceau.hsm.config import TokenConfig
from sceau.hsm.errors import HsmUnavailable, SigningKeyMissing
from sceau.hsm.module import HsmModule

logger = logging.getLogger(__name__)

T = TypeVar("T")

# A session that breaks alone: drop it and open another.
_SESSION_ERRORS = (pkcs11.SessionHandleInvalid, pkcs11.SessionClosed)
# A key found earlier through the session is gone (destroyed): forget the
# session's keys and try again, which finds the key or says it is missing.
_STALE_KEY_ERRORS = (pkcs11.KeyHandleInvalid, pkcs11.ObjectHandleInvalid)
# The request itself is wrong (a bug, or a key asked to do what it may not):
# the token is fine, and the error goes up as it is.
_REQUEST_ERRORS = (
    pkcs11.ArgumentsBad,
    pkcs11.AttributeSensitive,
    pkcs11.AttributeTypeInvalid,
    pkcs11.AttributeValueInvalid,
    pkcs11.AttributeReadOnly,
    pkcs11.DataInvalid,
    pkcs11.DataLenRange,
    pkcs11.FunctionNotSupported,
    pkcs11.KeySizeRange,
    pkcs11.KeyTypeInconsistent,
    pkcs11.KeyUnextractable,
    pkcs11.MechanismInvalid,
    pkcs11.MechanismParamInvalid,
    pkcs11.MultipleObjectsReturned,
    pkcs11.TemplateIncomplete,
    pkcs11.TemplateInconsistent,
)
# The PIN itself is refused: retrying every second would only lock the token.
_PIN_ERRORS = (
    pkcs11.PinIncorrect,
    pkcs11.PinInvalid,
    pkcs11.PinLenRange,
    pkcs11.PinExpired,
    pkcs11.PinLocked,
)
QUIET_SECONDS = 1.0
KEYS_PER_SESSION = 1024
# How long a request waits for a session of a full pool before it gives up.
BORROW_TIMEOUT_SECONDS = 30.0


class _KeyNotFound(pkcs11.NoSuchKey):
    """``C_FindObjects`` found no private key under this label and id."""

    def __init__(self, key: tuple[str, bytes]) -> None:
        super().__init__()
        self.key = key


class _KeyMissing(Exception):
    """The key is not in the token, and the session is still logged in."""

    def __init__(self, key: tuple[str, bytes] | None) -> None:
        super().__init__()
        self.key = key


class _ResetPending(Exception):
    """A thread waiting for a session gives up: the module is being reset."""


@dataclass
class PooledSession:
    session: Any
    generation: int
    # The session the pool logged in with: closing it would log out every
    # session of the process.
    holds_login: bool = False
    # Private keys already found through this session, by (label, id).
    keys: OrderedDict[tuple[str, bytes], Any] = field(default_factory=OrderedDict)
    # Keys the pool has found at least once (shared by its sessions).
    seen: set[tuple[str, bytes]] = field(default_factory=set)

    def private_key(self, label: str, key_id: bytes) -> Any:
        found = self.keys.get((label, key_id))
        if found is None:
            try:
                found = self.session.get_key(
                    object_class=ObjectClass.PRIVATE_KEY, label=label, id=key_id
                )
            except pkcs11.NoSuchKey as exc:
                raise _KeyNotFound((label, key_id)) from exc
            self.keys[(label, key_id)] = found
            self.seen.add((label, key_id))
            while len(self.keys) > KEYS_PER_SESSION:
                self.keys.popitem(last=False)
        else:
            self.keys.move_to_end((label, key_id))
        return found


class SessionPool:
    def __init__(
        self,
        module: HsmModule,
        config: TokenConfig,
        *,
        quiet_seconds: float = QUIET_SECONDS,
    ) -> None:
        self.module = module
        self.config = config
        self.size = config.pool_size
        self.quiet_seconds = quiet_seconds
        self.logins = 0
        self._cond = threading.Condition()
        self._idle: list[PooledSession] = []
        self._open = 0
        self._generation: int | None = None
        self._token: Any = None
        self._login_lock = threading.Lock()
        self._broken_generation: int | None = None
        self._quiet_until = 0.0
        self._closed = False
        self._seen: set[tuple[str, bytes]] = set()
        # SHA-256 of the PIN the token refused: not offered again.
        self._refused_pin: bytes | None = None

    # -- the one way in ----------------------------------------------------------

    def run(self, operation: Callable[[PooledSession], T], *, what: str) -> T:
        """``operation`` on a logged-in session; ``HsmUnavailable`` if the token
        cannot be used, after one reset and retry."""
        failure: BaseException | None = None
        token_failures = 0
        key_retried = False
        # Closed sessions are dropped and replaced, at most the whole pool's
        # worth; a failing token gets one reset and one more try.
        for _ in range(self.size + 2):
            if self._closed:
                raise HsmUnavailable()
            self._wait_out_quiet()
            broken = self._broken_generation
            if broken is not None and broken == self.module.generation:
                self.module.reset(broken)
            generation = None
            try:
                with (
                    self.module.calls() as generation,
                    self._borrow(generation) as pooled,
                ):
                    result = operation(pooled)
                self._broken_generation = None
                return result
            except _KeyMissing as exc:
                if exc.key in self._seen and not key_retried:
                    # A key this process has signed with is gone: the
                    # module's view of the token may be stale (SoftHSM sees
                    # a token directory that came back only after a reset).
                    # One reset and one more try, as for a failed token.
                    key_retried = True
                    self._note_broken(generation, exc, what)
                    continue
                self._seen.discard(exc.key)
                # An operator's matter: the token works, the key is not in it.
                logger.error(
                    "hsm.key_missing",
                    extra={
                        "code": SigningKeyMissing.code,
                        "operation": what,
                        "token": self.config.token_label,
                        "label": exc.key[0] if exc.key else None,
                        "key_id": exc.key[1].hex() if exc.key else None,
                    },
                )
                raise SigningKeyMissing() from exc.__cause__
            except _ResetPending as exc:
                raise HsmUnavailable() from exc
            except (*_SESSION_ERRORS, *_STALE_KEY_ERRORS) as exc:
                failure = exc
            except _REQUEST_ERRORS:
                raise
            except pkcs11.PKCS11Error as exc:
                failure = exc
                if isinstance(exc, _PIN_ERRORS):
                    # Nothing to reset: the PIN, not the token, is at fault.
                    raise HsmUnavailable() from exc
                token_failures += 1
                self._note_broken(generation, exc, what)
                if token_failures == 2:
                    break
        if token_failures == 0 and failure is not None:
            # Every try found its session gone: the module goes through a
            # reset before the next request, as for a failed token.
            self._note_broken(None, failure, what)
        self._go_quiet(failure)
        raise HsmUnavailable() from failure

    def close(self) -> None:
        with self._cond:
            self._closed = True
            idle, self._idle = self._idle, []
            self._open = 0
            self._generation = None
            self._cond.notify_all()
        for pooled in idle:
            _close_quietly(pooled)

    # -- sessions ----------------------------------------------------------------

    @contextmanager
    def _borrow(self, generation: int) -> Iterator[PooledSession]:
        pooled = self._take(generation)
        try:
            yield pooled
        except _SESSION_ERRORS:
            self._drop(pooled)
            raise
        except _STALE_KEY_ERRORS:
            pooled.keys.clear()
            self._give_back(pooled)
            raise
        except pkcs11.NoSuchKey as exc:
            if self.module.logged_in(pooled.session) and _holds_private_keys(
                pooled.session
            ):
                self._give_back(pooled)
                raise _KeyMissing(getattr(exc, "key", None)) from exc
            # The login is gone, and with it the sight of the private keys;
            # or the token shows no private key at all, its store gone from
            # under the module (SoftHSM's token directory moved away): the
            # token failed, not this one key.
            self._drop(pooled)
            raise
        except _REQUEST_ERRORS:
            self._give_back(pooled)
            raise
        except BaseException:
            # The token failed: the whole pool goes with the next reset.
            self._drop(pooled)
            raise
        else:
            self._give_back(pooled)

    def _take(self, generation: int) -> PooledSession:
        with self._cond:
            if self._generation != generation:
                # The module was reset: its sessions, and the login, are gone.
                self._idle.clear()
                self._open = 0
                self._token = None
                self._generation = generation
            deadline = time.monotonic() + BORROW_TIMEOUT_SECONDS
            while True:
                if self._closed:
                    raise _ResetPending()
                if self._idle:
                    return self._idle.pop()
                if self._open < self.size:
                    self._open += 1
                    break
                left = deadline - time.monotonic()
                if left <= 0 or self._broken_generation == generation:
                    # A full pool that does not free up, or a token about to
                    # be reset: waiting longer would only hold the request.
                    raise _ResetPending()
                self._cond.wait(min(left, 0.5))
        try:
            return self._open_session(generation)
        except BaseException:
            with self._cond:
                self._open -= 1
                self._cond.notify()
            raise

    def _open_session(self, generation: int) -> PooledSession:
        # The first session logs in, and no other opens before it has: a
        # session opened meanwhile would not see the private keys yet.
        with self._login_lock:
            if self._token is not None:
                return PooledSession(
                    self._token.open(rw=True), generation, seen=self._seen
                )
            try:
                pin = self.config.read_pin()
            except ConfigurationError as exc:
                logger.error("hsm.pin_unreadable", extra={"reason": str(exc)})
                raise pkcs11.PinIncorrect() from None
            digest = hashlib.sha256(pin.encode()).digest()
            if digest == self._refused_pin:
                # The same PIN again: not offered to the token, which would
                # count one more failure towards locking it.
                raise pkcs11.PinIncorrect()
            token = self.module.lib.get_token(token_label=self.config.token_label)
            session = token.open(rw=True)
            try:
                self.module.login(session, pin)
            except BaseException as exc:
                with contextlib.suppress(pkcs11.PKCS11Error):
                    session.close()
                if not isinstance(exc, _PIN_ERRORS):
                    raise
                self._refused_pin = digest
                logger.error(
                    "hsm.pin_refused",
                    extra={
                        "token": self.config.token_label,
                        "reason": type(exc).__name__,
                    },
                )
                raise
            self._refused_pin = None
            self.logins += 1
            self._token = token
        logger.info(
            "hsm.login",
            extra={"token": self.config.token_label, "logins": self.logins},
        )
        return PooledSession(session, generation, holds_login=True, seen=self._seen)

    def _give_back(self, pooled: PooledSession) -> None:
        with self._cond:
            if pooled.generation == self._generation:
                self._idle.append(pooled)
            self._cond.notify()

    def _drop(self, pooled: PooledSession) -> None:
        with self._cond:
            if pooled.generation == self._generation:
                self._open -= 1
            self._cond.notify()
        _close_quietly(pooled)

    # -- failures ----------------------------------------------------------------

    def _note_broken(
        self, generation: int | None, exc: BaseException, what: str
    ) -> None:
        logger.warning(
            "hsm.operation_failed",
            extra={
                "operation": what,
                "token": self.config.token_label,
                "reason": type(exc).__name__,
            },
        )
        if generation is None:
            generation = self.module.generation
        self._broken_generation = generation

    def _go_quiet(self, failure: BaseException | None) -> None:
        quiet = self.quiet_seconds
        self._quiet_until = time.monotonic() + quiet
        logger.error(
            "hsm.unavailable",
            extra={
                "token": self.config.token_label,
                "reason": type(failure).__name__ if failure else None,
                "retry_in_seconds": quiet,
            },
        )

    def _wait_out_quiet(self) -> None:
        if time.monotonic() < self._quiet_until:
            raise HsmUnavailable()


def _holds_private_keys(session: Any) -> bool:
    """Whether the token shows the session any private key. The search runs
    to its end, which closes it: one left open would refuse the session's
    next search."""
    try:
        return bool(
            list(session.get_objects({Attribute.CLASS: ObjectClass.PRIVATE_KEY}))
        )
    except pkcs11.PKCS11Error:
        return False


def _close_quietly(pooled: PooledSession) -> None:
    # Only sessions opened without a PIN are closed here: closing the one
    # that logged in would log out every session of the process.
    if pooled.holds_login:
        return
    # A failure means the session went with the token: nothing to release.
    with contextlib.suppress(pkcs11.PKCS11Error):
        pooled.session.close()
