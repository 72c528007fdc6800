"""A server stream of corral's API as an iterator: gRPC errors come out as corral.errors'
ClientError classes, and cancelling (from any thread) ends the iteration quietly.

    with Stream(stub.Logs(request), address) as lines:
        for chunk in lines:
            ...
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Generic, TypeVar

import grpc

from corral import errors

T = TypeVar("T")


class Stream(Generic[T]):
    """An iterator over a server stream that translates errors and can be cancelled.

    Cancelling from another thread ends the iteration quietly.
    """

    def __init__(self, call: object, address: str) -> None:
        self._call = call
        self._address = address
        self._cancelled = threading.Event()

    def __iter__(self) -> Iterator[T]:
        return self

    def __next__(self) -> T:
        try:
            item: T = next(self._call)  # type: ignore[call-overload]
            return item
        except grpc.RpcError as e:
            if self._cancelled.is_set() or _code(e) == grpc.StatusCode.CANCELLED:
                raise StopIteration from None
            raise errors.from_rpc_error(e, self._address) from None

    def cancel(self) -> None:
        self._cancelled.set()
        cancel = getattr(self._call, "cancel", None)
        if callable(cancel):
            cancel()

    def __enter__(self) -> Stream[T]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.cancel()


def _code(e: grpc.RpcError) -> grpc.StatusCode | None:
    fn = getattr(e, "code", None)
    return fn() if callable(fn) else None
