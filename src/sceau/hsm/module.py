"""One PKCS#11 library in this process, initialised for threads.

python-pkcs11 initialises a module with ``C_Initialize(NULL)``, which tells
the module that the application will not call it from several threads at
once; SoftHSM then switches its locks off. The service signs from many
threads, so the module is initialised again here with ``CKF_OS_LOCKING_OK``
(the module locks with the system's primitives), or, for a module that cannot
lock (``CKR_CANT_LOCK``), every call is serialised behind one lock.

Recovering from a lost token means finalising and initialising the module
again (a SoftHSM token directory that went away and came back, a network
HSM's client that lost its link): ``reset`` does it once no call is in flight,
and bumps ``generation`` so that pools drop the sessions of the old one.
"""

from __future__ import annotations

import ctypes
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

import pkcs11

logger = logging.getLogger(__name__)

_CKR_OK = 0x0
_CKR_CANT_LOCK = 0x0A
_CKR_CRYPTOKI_NOT_INITIALIZED = 0x190
_CKF_OS_LOCKING_OK = 0x2

_CKU_USER = 1
_CKR_USER_ALREADY_LOGGED_IN = 0x100
# Session states in which the user is logged in (CKS_RO/RW_USER_FUNCTIONS).
_USER_STATES = (1, 3)
# What C_Login may answer, as python-pkcs11 names it.
_LOGIN_ERRORS: dict[int, type[pkcs11.PKCS11Error]] = {
    0xA0: pkcs11.PinIncorrect,
    0xA1: pkcs11.PinInvalid,
    0xA2: pkcs11.PinLenRange,
    0xA3: pkcs11.PinExpired,
    0xA4: pkcs11.PinLocked,
    0xB0: pkcs11.SessionClosed,
    0xB3: pkcs11.SessionHandleInvalid,
    0xE0: pkcs11.TokenNotPresent,
    0x30: pkcs11.DeviceError,
    0x32: pkcs11.DeviceRemoved,
}

_Initialize = ctypes.CFUNCTYPE(ctypes.c_ulong, ctypes.c_void_p)
_Finalize = ctypes.CFUNCTYPE(ctypes.c_ulong, ctypes.c_void_p)


class _SessionInfo(ctypes.Structure):
    _fields_ = [
        ("slotID", ctypes.c_ulong),
        ("state", ctypes.c_ulong),
        ("flags", ctypes.c_ulong),
        ("ulDeviceError", ctypes.c_ulong),
    ]


_GetSessionInfo = ctypes.CFUNCTYPE(
    ctypes.c_ulong, ctypes.c_ulong, ctypes.POINTER(_SessionInfo)
)
_Login = ctypes.CFUNCTYPE(
    ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_char_p, ctypes.c_ulong
)


class _InitArgs(ctypes.Structure):
    _fields_ = [
        ("CreateMutex", ctypes.c_void_p),
        ("DestroyMutex", ctypes.c_void_p),
        ("LockMutex", ctypes.c_void_p),
        ("UnlockMutex", ctypes.c_void_p),
        ("flags", ctypes.c_ulong),
        ("pReserved", ctypes.c_void_p),
    ]


class _FunctionListHead(ctypes.Structure):
    # The first entries of CK_FUNCTION_LIST, in the standard's order, up to
    # the last one called here (C_Login).
    _fields_ = [
        ("version", ctypes.c_ubyte * 2),
        ("C_Initialize", _Initialize),
        ("C_Finalize", _Finalize),
        *(
            (name, ctypes.c_void_p)
            for name in (
                "C_GetInfo",
                "C_GetFunctionList",
                "C_GetSlotList",
                "C_GetSlotInfo",
                "C_GetTokenInfo",
                "C_GetMechanismList",
                "C_GetMechanismInfo",
                "C_InitToken",
                "C_InitPIN",
                "C_SetPIN",
                "C_OpenSession",
                "C_CloseSession",
                "C_CloseAllSessions",
            )
        ),
        ("C_GetSessionInfo", _GetSessionInfo),
        ("C_GetOperationState", ctypes.c_void_p),
        ("C_SetOperationState", ctypes.c_void_p),
        ("C_Login", _Login),
    ]


class ModuleError(RuntimeError):
    """The library cannot be loaded or initialised."""


class HsmModule:
    def __init__(self, path: Path) -> None:
        self.path = path
        # python-pkcs11 loads the library and reads its function list; its own
        # single-threaded initialisation is then undone and done again below.
        try:
            self.lib: Any = pkcs11.lib(str(path))
            self.lib.finalize()
        except pkcs11.PKCS11Error as exc:
            raise ModuleError(
                f"cannot load the PKCS#11 module {path} ({type(exc).__name__}): "
                "check the module's own configuration (SOFTHSM2_CONF for SoftHSM2)"
            ) from exc
        self._functions = _function_list(path)
        self._serial: threading.Lock | None = None
        self._initialise()

        self.generation = 0
        self._gate = threading.Condition()
        self._active = 0
        self._resetting = False

    def _initialise(self) -> None:
        args = _InitArgs(None, None, None, None, _CKF_OS_LOCKING_OK, None)
        rv = self._functions.C_Initialize(
            ctypes.cast(ctypes.pointer(args), ctypes.c_void_p)
        )
        if rv == _CKR_CANT_LOCK:
            logger.warning("hsm.module_cannot_lock", extra={"module": str(self.path)})
            self._serial = threading.Lock()
            rv = self._functions.C_Initialize(None)
        if rv != _CKR_OK:
            raise ModuleError(f"C_Initialize failed on {self.path}: 0x{rv:x}")

    def _finalise(self) -> None:
        rv = self._functions.C_Finalize(None)
        if rv not in (_CKR_OK, _CKR_CRYPTOKI_NOT_INITIALIZED):
            logger.warning("hsm.finalize_failed", extra={"rv": f"0x{rv:x}"})

    @contextmanager
    def calls(self) -> Iterator[int]:
        """Around any use of the module: waits out a reset, and yields the
        generation the caller's sessions must belong to."""
        with self._gate:
            while self._resetting:
                self._gate.wait()
            self._active += 1
            generation = self.generation
        try:
            with self._serial or nullcontext():
                yield generation
        finally:
            with self._gate:
                self._active -= 1
                if self._active == 0:
                    self._gate.notify_all()

    def reset(self, seen_generation: int) -> None:
        """Finalise and initialise again, unless another thread already did
        since ``seen_generation``. Every session of the module is gone after."""
        with self._gate:
            if self.generation != seen_generation or self._resetting:
                return
            self._resetting = True
            while self._active:
                self._gate.wait()
        try:
            self._finalise()
            self._initialise()
            logger.info("hsm.module_reset", extra={"module": str(self.path)})
        except ModuleError as exc:
            # Logged once per reset, without a trace: the next request tries
            # again after the pool's pause.
            logger.error("hsm.module_reset_failed", extra={"reason": str(exc)})
        finally:
            with self._gate:
                self.generation += 1
                self._resetting = False
                self._gate.notify_all()

    def login(self, session: Any, pin: str) -> None:
        """``C_Login`` as the user on ``session`` (opened without a PIN).
        python-pkcs11 logs in inside ``Token.open`` and, when the PIN is
        refused, leaves the session it opened for the login open; here the
        caller holds the session and closes it."""
        secret = pin.encode()
        rv = self._functions.C_Login(session.handle, _CKU_USER, secret, len(secret))
        if rv in (_CKR_OK, _CKR_USER_ALREADY_LOGGED_IN):
            return
        raise _LOGIN_ERRORS.get(rv, pkcs11.GeneralError)()

    def logged_in(self, session: Any) -> bool:
        """Whether ``session`` still sees the user's private objects."""
        info = _SessionInfo()
        rv = self._functions.C_GetSessionInfo(session.handle, ctypes.byref(info))
        return rv == _CKR_OK and info.state in _USER_STATES

    def close(self) -> None:
        with self._gate:
            self._resetting = True
            while self._active:
                self._gate.wait()
            self._finalise()
            self.generation += 1
            self._resetting = False
            self._gate.notify_all()


def _function_list(path: Path) -> _FunctionListHead:
    library = ctypes.CDLL(str(path))
    get_list = library.C_GetFunctionList
    pointer = ctypes.POINTER(_FunctionListHead)()
    get_list.argtypes = [ctypes.POINTER(ctypes.POINTER(_FunctionListHead))]
    get_list.restype = ctypes.c_ulong
    rv = get_list(ctypes.byref(pointer))
    if rv != _CKR_OK or not pointer:
        raise ModuleError(f"C_GetFunctionList failed on {path}: 0x{rv:x}")
    return pointer.contents
