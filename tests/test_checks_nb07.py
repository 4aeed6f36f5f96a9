"""Checkers of notebook 07: right answers pass, typical wrong answers fail with a useful message."""

import torch

from segedu.course.checks import nb07
from segedu.data.pets import TRIMAP_TO_CLASS


def lookup(trimap):
    return TRIMAP_TO_CLASS[trimap.long()].long()


def test_trimap_mapping_passes_right_answers():
    assert nb07.check_trimap_to_classes(lookup)
    assert nb07.check_trimap_to_classes(nb07.reference_trimap_to_classes)
    assert torch.equal(nb07.reference_trimap_to_classes(nb07.EXAMPLE_TRIMAP), lookup(nb07.EXAMPLE_TRIMAP))


def test_trimap_mapping_placeholder_is_not_done_yet():
    for answer in (None, ..., lambda trimap: ...):
        result = nb07.check_trimap_to_classes(answer)
        assert not result and "not done yet" in result.message


def test_trimap_mapping_fails_typical_mistakes():
    cases = {
        "subtracted 1": lambda t: t.long() - 1,
        "swapped": lambda t: torch.where(t == 1, 0, torch.where(t == 2, 1, 255)),
        "border": lambda t: torch.where(t == 1, 1, 0),
        "float": lambda t: lookup(t).float(),
        "raised": lambda t: t.nope(),
        "should be a torch.Tensor": lambda t: lookup(t).tolist(),
        "should be a function": 3,
        "changed its input": lambda t: t.copy_(lookup(t)).long(),
    }
    for expected, answer in cases.items():
        result = nb07.check_trimap_to_classes(answer)
        assert not result, expected
        assert expected in result.message, (expected, result)


def test_ignored_fraction():
    masks = torch.zeros(2, 4, 5, dtype=torch.long)
    masks[0, 0, :] = 255  # 5 of 40 pixels
    right = (masks == 255).float().mean()
    assert nb07.check_ignored_fraction(right, masks)
    assert nb07.check_ignored_fraction(0.125, masks)
    assert "not done yet" in nb07.check_ignored_fraction(..., masks).message
    assert "percentage" in nb07.check_ignored_fraction(12.5, masks).message
    assert "labelled" in nb07.check_ignored_fraction(0.875, masks).message
    assert "number of ignored" in nb07.check_ignored_fraction(5, masks).message
    assert "one number" in nb07.check_ignored_fraction((masks == 255).float().mean((1, 2)), masks).message
    assert not nb07.check_ignored_fraction(0.3, masks)
    assert not nb07.check_ignored_fraction("a lot", masks)
