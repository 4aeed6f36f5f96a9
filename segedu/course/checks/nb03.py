"""Checkers for notebook 03 (down and up): strided-conv sizes, checkerboard-free upsampling, bilinear init.

Each checker takes the learner's answer and returns a :class:`~segedu.course.checks.CheckResult`;
an unfilled answer (``...`` or ``None``) gives "not done yet", never an exception.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from segedu.course.checks import CheckResult, failed, passed

CONV_CASES = (  # (size, kernel, stride, padding) -> output size, as nn.Conv2d computes it
    (64, 3, 2, 1), (65, 3, 2, 1), (64, 4, 2, 1), (7, 3, 1, 0), (64, 2, 2, 0), (5, 3, 2, 0), (33, 5, 4, 2),
)


def _not_done(answer) -> bool:
    return answer is None or answer is Ellipsis


def _conv_size(size: int, kernel: int, stride: int, padding: int) -> int:
    """What ``nn.Conv2d`` gives (measured, not a formula, so the checker cannot share the learner's mistake)."""
    conv = nn.Conv2d(1, 1, kernel, stride=stride, padding=padding)
    with torch.no_grad():
        return conv(torch.zeros(1, 1, size, size)).shape[-1]


def check_conv_output_size(conv_output_size) -> CheckResult:
    """``conv_output_size(size, kernel, stride, padding) -> int``: the output side of a convolution."""
    if _not_done(conv_output_size):
        return failed("not done yet: define conv_output_size(size, kernel, stride, padding)",
                      "floor((size + 2 * padding - kernel) / stride) + 1")
    if not callable(conv_output_size):
        return failed(f"conv_output_size should be a function, got {type(conv_output_size).__name__}")
    for case in CONV_CASES:
        expected = _conv_size(*case)
        size, kernel, stride, padding = case
        try:
            got = conv_output_size(*case)
        except Exception as error:  # noqa: BLE001 - report any learner error as a hint
            return failed(f"conv_output_size{case} raised {type(error).__name__}: {error}")
        if got is None or got is Ellipsis:
            return failed("not done yet: conv_output_size returns nothing", "return an int")
        if isinstance(got, float) and got != int(got):
            return failed(f"conv_output_size{case} = {got}, not a whole number",
                          "the division rounds down: use // (integer division)")
        if got != expected:
            hint = "floor((size + 2 * padding - kernel) / stride) + 1"
            if got == expected - 1:
                hint = "did you forget the + 1 (the first position of the kernel)?"
            elif got == -(-(size + 2 * padding - kernel) // stride) + 1:
                hint = "the division rounds down (the kernel never hangs over the padded edge): use //"
            return failed(f"conv_output_size(size={size}, kernel={kernel}, stride={stride}, padding={padding}) "
                          f"= {got}, but nn.Conv2d gives {expected}", hint)
    return passed(f"conv_output_size agrees with nn.Conv2d on {len(CONV_CASES)} cases")


def check_upsampler_no_checkerboard(kernel_size, stride, padding, size: int = 8) -> CheckResult:
    """A transposed convolution (``kernel_size``, ``stride``, ``padding``) that multiplies the size by
    ``stride`` exactly and spreads its input evenly (flat interior on an all-ones input)."""
    if any(_not_done(value) for value in (kernel_size, stride, padding)):
        return failed("not done yet: set kernel_size, stride and padding",
                      "the output side is (size - 1) * stride - 2 * padding + kernel_size")
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (kernel_size, stride, padding)):
        return failed("kernel_size, stride and padding should be ints")
    if stride < 2:
        return failed(f"stride {stride} does not upsample", "use stride 2 to double the size")
    if kernel_size < 1 or padding < 0:
        return failed(f"kernel_size must be >= 1 and padding >= 0, got {kernel_size} and {padding}")
    conv = nn.ConvTranspose2d(1, 1, kernel_size, stride=stride, padding=padding, bias=False)
    with torch.no_grad():
        conv.weight.fill_(1.0)
        try:
            out = conv(torch.ones(1, 1, size, size))[0, 0]
        except RuntimeError as error:
            return failed(f"this transposed convolution cannot run: {error}", "use a smaller padding")
    if out.shape[-1] != stride * size:
        return failed(f"a {size}x{size} input gives {out.shape[-1]}x{out.shape[-1]}, not "
                      f"{stride * size}x{stride * size}",
                      "(size - 1) * stride - 2 * padding + kernel_size must equal stride * size: "
                      "kernel_size - 2 * padding = stride")
    margin = kernel_size
    interior = out[margin:-margin, margin:-margin]
    if interior.numel() and interior.max() != interior.min():
        return failed(f"the interior is not flat: contributions per pixel range from {int(interior.min())} "
                      f"to {int(interior.max())} (a checkerboard)",
                      "make kernel_size a multiple of the stride, so that every output pixel gets as many taps")
    return passed(f"kernel {kernel_size}, stride {stride}, padding {padding}: exactly {stride}x larger, "
                  f"every interior pixel receives {int(interior.max())} contributions (no checkerboard)")


def check_bilinear_upsampler(upsampler, factor: int = 2, size: int = 12) -> CheckResult:
    """``upsampler``: a 1-channel ``nn.ConvTranspose2d`` that should equal
    ``F.interpolate(scale_factor=factor, mode="bilinear", align_corners=False)`` away from the border."""
    if _not_done(upsampler):
        return failed("not done yet: build the transposed convolution and set its weight",
                      "nn.ConvTranspose2d(1, 1, 2 * factor, stride=factor, padding=factor // 2, bias=False)")
    if not isinstance(upsampler, nn.ConvTranspose2d):
        return failed(f"expected an nn.ConvTranspose2d, got {type(upsampler).__name__}")
    if upsampler.in_channels != 1 or upsampler.out_channels != 1:
        return failed(f"expected 1 input and 1 output channel, got {upsampler.in_channels} -> "
                      f"{upsampler.out_channels}")
    x = ((torch.arange(size * size) * 7 % 11).float() / 10).reshape(1, 1, size, size)
    with torch.no_grad():
        got = upsampler(x)
    want = F.interpolate(x, scale_factor=factor, mode="bilinear", align_corners=False)
    if got.shape != want.shape:
        return failed(f"a {size}x{size} input gives {tuple(got.shape[-2:])}, expected {tuple(want.shape[-2:])}",
                      f"kernel {2 * factor}, stride {factor}, padding {factor // 2}")
    margin = max(factor // 2, 1)
    difference = (got - want).abs()[..., margin:-margin, margin:-margin].max().item()
    if difference > 1e-5:
        kernel = upsampler.weight.detach()[0, 0]
        hint = "the weight should be the outer product of the 1-D tent [1 - |i - (f - 0.5)| / f for i in 0..2f-1]"
        if abs(kernel.sum().item() - factor**2) > 1e-4:
            hint += f"; its sum should be {factor**2} (it is {kernel.sum().item():.3g})"
        if upsampler.bias is not None and upsampler.bias.abs().max() > 0:
            hint += "; the bias should be zero (or bias=False)"
        return failed(f"differs from F.interpolate in the interior by up to {difference:.3g}", hint)
    return passed(f"equals bilinear interpolation x{factor} in the interior (max difference {difference:.1e})")
