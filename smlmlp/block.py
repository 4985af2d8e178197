"""The ``@block`` decorator: parameters from keywords, then a configuration, then defaults.

The workflow keeps one configuration section per step; decorated functions take
it whole through ``config=`` and pick the parameters they know. A value given
explicitly always wins over the configuration, which wins over the default.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])
_MISSING = object()


def _lookup(config: Any, key: str) -> Any:
    if config is None:
        return _MISSING
    if isinstance(config, Mapping):
        return config.get(key, _MISSING)
    return getattr(config, key, _MISSING)


def block(function: F) -> F:
    """Let ``function`` take its parameters from a ``config=`` mapping or object.

    Explicit arguments win; parameters not given are looked up in ``config``
    (positional-only parameters, the data, always come from the call)
    by key for a mapping or by attribute for an object; the rest take their defaults.
    Keys of ``config`` that the function does not know are ignored, so one
    configuration section can serve several functions.

    Parameters
    ----------
    function : callable
        The function to wrap. It must not already have a ``config`` parameter.

    Returns
    -------
    callable
        The wrapped function, whose signature gains a keyword-only ``config=None``.

    Examples
    --------
    >>> @block
    ... def scale(values, /, factor=2.0, *, offset=0.0):
    ...     return [v * factor + offset for v in values]
    >>> scale([1.0], config={"factor": 10.0, "offset": 1.0, "unrelated": True})
    [11.0]
    >>> scale([1.0], 3.0, config={"factor": 10.0})
    [3.0]
    >>> scale([1.0])
    [2.0]
    """
    signature = inspect.signature(function)
    if "config" in signature.parameters:
        raise TypeError(f"{function.__name__} already has a 'config' parameter")
    configurable = [
        parameter
        for parameter in signature.parameters.values()
        if parameter.kind
        in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    ]

    @functools.wraps(function)
    def wrapper(*args: Any, config: Any = None, **kwargs: Any) -> Any:
        if config is not None:
            bound = signature.bind_partial(*args, **kwargs)
            for parameter in configurable:
                if parameter.name in bound.arguments:
                    continue
                value = _lookup(config, parameter.name)
                if value is _MISSING:
                    continue
                kwargs[parameter.name] = value
        return function(*args, **kwargs)

    config_parameter = inspect.Parameter("config", inspect.Parameter.KEYWORD_ONLY, default=None)
    parameters = list(signature.parameters.values())
    insert_at = next(
        (i for i, p in enumerate(parameters) if p.kind is inspect.Parameter.VAR_KEYWORD),
        len(parameters),
    )
    parameters.insert(insert_at, config_parameter)
    wrapper.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
    return wrapper  # type: ignore[return-value]
