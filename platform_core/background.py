"""A call made in a thread of its own while its caller goes on, for work done in another process
(a webserver answering, a pandas step's process computing): what it returned, or what it raised,
comes back in the caller's thread, as if the call had been made there."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Background(Generic[T]):
    """`call()` started in a thread now; `result` waits for it."""

    def __init__(self, call: Callable[[], T]) -> None:
        self._returned: tuple[T] | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(call,), daemon=True)
        self._thread.start()

    def _run(self, call: Callable[[], T]) -> None:
        try:
            self._returned = (call(),)
        except BaseException as error:  # noqa: BLE001 - raised again by `result`, in the caller's thread
            self._error = error

    def wait(self) -> None:
        """Until the call has ended, whatever it gave."""
        self._thread.join()

    def result(self) -> T:
        self.wait()
        if self._error is not None:
            raise self._error
        assert self._returned is not None  # the thread ended with a result or an error
        return self._returned[0]
