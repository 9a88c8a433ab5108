"""moto's register of model instances, held weakly for the local engine.

moto 5.2.5 appends every instance of every model class (``BaseModel.__new__``) to a list on its class,
``instances_tracked``, for its dashboard (``/moto-api/data.json``) and for ``reset``; nothing but
``reset_model_data`` ever empties it. In a long-lived engine that is every object a run ever made: each S3 PUT
builds a ``FakeKey`` whose constructor makes a private ACL (``FakeAcl``, ``FakeGrant``, ``FakeGrantee``) that
the PUT replaces with the bucket's at once, and all four stay, as do every overwritten or deleted key and every
multipart part. :func:`install` has ``BaseModel.__new__`` register instances in a :class:`WeakInstances`
instead: the dashboard and ``reset`` still see every instance that is alive, and the rest is freed. A register
that is not moto's plain list is left as it is (``disk_dynamodb`` gives DynamoDB's ``Item`` one that keeps none:
items are made by the million, and none needs listing).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator
from typing import Any

from moto.core.common_models import BaseModel

_state: dict[str, Any] = {}
_lock = threading.Lock()


class WeakInstances:
    """A model class's ``instances_tracked``: ``append`` and iteration as moto uses them, the instances weakly
    held (keyed by ``id``: some models define ``__eq__`` without ``__hash__``)."""

    def __init__(self, instances: Any = ()) -> None:
        self._refs: weakref.WeakValueDictionary[int, Any] = weakref.WeakValueDictionary()
        for instance in instances:
            self.append(instance)

    def append(self, instance: Any) -> None:
        self._refs[id(instance)] = instance

    def __iter__(self) -> Iterator[Any]:
        return iter(list(self._refs.values()))

    def __len__(self) -> int:
        return len(self._refs)


def _new_weakly_tracked(cls: type, *args: Any, **kwargs: Any) -> Any:
    instance = super(BaseModel, cls).__new__(cls)  # type: ignore[misc]
    # the register moto would append to (``cls.instances_tracked``): the class's own, or a base class's
    owner = next(c for c in cls.__mro__ if "instances_tracked" in c.__dict__)
    tracked = owner.__dict__["instances_tracked"]
    if type(tracked) is list:  # moto's own (the first instance, or a reset put a new list back): weakly from now on
        tracked = WeakInstances(tracked)
        setattr(owner, "instances_tracked", tracked)  # noqa: B010 - set by moto's metaclass
    tracked.append(instance)
    return instance


def install() -> None:
    """Register moto's model instances weakly from now on (idempotent)."""
    with _lock:
        _state.setdefault("new", BaseModel.__dict__["__new__"])
        BaseModel.__new__ = _new_weakly_tracked  # type: ignore[method-assign]


def uninstall() -> None:
    """moto's own registration again (what is registered weakly stays so)."""
    with _lock:
        if "new" in _state:
            BaseModel.__new__ = _state.pop("new")  # type: ignore[method-assign]
