"""How :func:`~segedu.train.fit` and :func:`~segedu.train.evaluate` read a dataset, which a first reading can skip.

Items are ``(image, mask)`` pairs (or ``(image, mask, size buckets)``, or dicts with those keys);
:func:`collate` stacks them into a batch, :func:`unpack` takes a batch apart, :func:`iterate_batches`
walks a dataset in order (through its fast ``batch`` method when it has one). The class names and
count are read from the dataset, through a ``Subset`` or a ``DataLoader``.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import nn
from torch.utils.data import DataLoader, default_collate


def model_device(model: nn.Module) -> torch.device:
    """The device of the model's first parameter (the CPU for a model without parameters)."""
    parameter = next(model.parameters(), None)
    return parameter.device if parameter is not None else torch.device("cpu")


def unpack(batch) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """(images, masks, size buckets or None) from a collated batch: a dict or an (image, mask[, bucket]) tuple."""
    if isinstance(batch, dict):
        return batch["image"], batch["mask"], batch.get("size_bucket")
    if isinstance(batch, (tuple, list)) and len(batch) in (2, 3):
        return batch[0], batch[1], (batch[2] if len(batch) == 3 else None)
    raise TypeError(
        "Each dataset item must be an (image, mask) pair (or a dict with 'image' and 'mask'), got "
        f"{type(batch).__name__}" + (f" of length {len(batch)}" if isinstance(batch, (tuple, list)) else "")
    )


def iterate_batches(data, batch_size: int) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]]:
    """Yield ``(images N x 3 x H x W, masks N x H x W, size buckets N x H x W or None)`` in order.

    Uses the dataset's fast ``batch(indices)`` method when it has one and no transform
    is set (``batch`` skips transforms), else a ``DataLoader`` without worker processes.
    A ``DataLoader`` is iterated as it is.
    """
    if isinstance(data, DataLoader):
        for batch in data:
            yield unpack(batch)
        return
    try:
        length = len(data)
    except TypeError as error:
        raise TypeError(f"Expected a Dataset with a length or a DataLoader, got {type(data).__name__}") from error
    if length == 0:
        raise ValueError("The dataset is empty (length 0): there is nothing to evaluate or train on.")
    if callable(getattr(data, "batch", None)) and getattr(data, "transform", None) is None:
        for start in range(0, length, batch_size):
            yield unpack(data.batch(list(range(start, min(start + batch_size, length)))))
        return
    for batch in DataLoader(data, batch_size=batch_size, shuffle=False, num_workers=0, collate_fn=collate):
        yield unpack(batch)


def collate(items: list):
    """``default_collate`` (items -> a batch), with a clear error when the items differ in size."""
    try:
        return default_collate(items)
    except RuntimeError:
        sizes = _item_sizes(items)
        if len(set(sizes)) < 2:
            raise
        first = sizes[0]
        other = next(index for index, size in enumerate(sizes) if size != first)
        raise ValueError(f"The items of a batch have different sizes: item 0 is {_shape_text(first)}, item {other} "
                         f"{_shape_text(sizes[other])}. A batch stacks its items into one tensor, so they need one "
                         f"size: give the dataset a transform that resizes or crops them, e.g. "
                         f"transform=eval_transforms(64) or train_transforms(64) from segedu.data.transforms, or "
                         f"use batch_size=1.") from None


def _item_sizes(items: list) -> list[tuple]:
    """The shapes of each item's tensors (image, mask...), to compare them."""
    def shapes(item):
        values = item.values() if isinstance(item, dict) else item if isinstance(item, (tuple, list)) else [item]
        return tuple(tuple(value.shape) for value in values if isinstance(value, torch.Tensor))

    return [shapes(item) for item in items]


def _shape_text(shapes: tuple) -> str:
    return " with ".join(" x ".join(str(side) for side in shape) for shape in shapes)


def _sources(data):
    """``data``, and what it wraps (a Subset's or a DataLoader's dataset, two levels deep)."""
    inner = getattr(data, "dataset", None)
    return (data, inner, getattr(inner, "dataset", None))


def class_names_of(data, num_classes: int) -> tuple[str, ...]:
    """The dataset's ``classes`` (also through a Subset or DataLoader), else ``class 0``, ``class 1``, ..."""
    for source in _sources(data):
        names = getattr(source, "classes", None)
        if names is not None and len(names) == num_classes:
            return tuple(str(name) for name in names)
    return tuple(f"class {index}" for index in range(num_classes))


def num_classes_of(data) -> int | None:
    """``data.num_classes`` (also through a Subset or a DataLoader), or None when unknown."""
    for source in _sources(data):
        value = getattr(source, "num_classes", None)
        if isinstance(value, int):
            return value
    return None
