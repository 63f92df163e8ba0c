"""Hooks: how a lower app learns of something an app above it knows, without importing it.

The lower app declares a `Hook` and calls it; the higher app registers a function in its
`AppConfig.ready`. Calls run the registered functions in order, in the caller's transaction.
"""

from collections.abc import Callable, Iterator
from typing import Any


class Hook:
    def __init__(self, name: str) -> None:
        self.name = name
        self._functions: list[Callable[..., Any]] = []

    def register(self, function: Callable[..., Any]) -> Callable[..., Any]:
        if function not in self._functions:
            self._functions.append(function)
        return function

    def __call__(self, **kwargs: Any) -> list[Any]:
        return [function(**kwargs) for function in self._functions]

    def __iter__(self) -> Iterator[Callable[..., Any]]:
        return iter(self._functions)

    def __repr__(self) -> str:
        return f"<Hook {self.name}: {len(self._functions)} registered>"
