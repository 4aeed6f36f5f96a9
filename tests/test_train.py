"""fit / evaluate / predict on tiny fakes: learning, determinism, best weights, interrupts, bad input."""

import copy
import math
import sys

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset, Subset

from segedu.metrics import ConfusionMatrix
from segedu.train import History, Scores, evaluate, fit, pixel_cross_entropy, predict


class ColourScenes(Dataset):
    """Random 3 x S x S images whose true class at each pixel is its brightest channel.

    A 1x1 convolution can learn this exactly. ``ignore`` marks every pixel 255 in items
    whose index is a multiple of ``ignore``. ``batch()`` mimics SyntheticScenes' fast path,
    with size buckets 0/1/2 by row third.
    """

    classes = ("background", "green", "blue")
    num_classes = 3
    transform = None

    def __init__(self, length=16, size=8, seed=0, ignore=None, mask_dtype=torch.int64, offset=0):
        self.length, self.size, self.seed, self.ignore = length, size, seed, ignore
        self.mask_dtype, self.offset = mask_dtype, offset

    def __len__(self):
        return self.length

    def __getitem__(self, index):
        generator = torch.Generator().manual_seed(self.seed * 10_000 + index)
        image = torch.rand(3, self.size, self.size, generator=generator)
        mask = image.argmax(0) + self.offset
        if self.ignore and index % self.ignore == 0:
            mask[:] = 255
        return image, mask.to(self.mask_dtype)

    def size_buckets(self, index):
        return (torch.arange(self.size) * 3 // self.size).view(-1, 1).expand(self.size, self.size).clone()

    def batch(self, indices):
        items = [self[i] for i in indices]
        return {"image": torch.stack([image for image, _ in items]),
                "mask": torch.stack([mask for _, mask in items]),
                "size_bucket": torch.stack([self.size_buckets(i) for i in indices])}


def tiny_net(seed=0, out_channels=3):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(3, 8, 1), nn.ReLU(), nn.Conv2d(8, out_channels, 1))


class AuxNet(nn.Module):
    """Returns {"out", "aux"} in training mode (aux at half resolution), logits in eval mode."""

    def __init__(self):
        super().__init__()
        self.main, self.aux = tiny_net(0), nn.Conv2d(3, 3, 1)

    def forward(self, x):
        out = self.main(x)
        if self.training:
            return {"out": out, "aux": self.aux(F.avg_pool2d(x, 2))}
        return out


FIT = dict(epochs=2, batch_size=8, lr=0.05, progress=False, device="cpu")


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny tensors: one intra-op thread is much faster than two fighting over a busy 2-core machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# --------------------------------------------------------------------------- fit


def test_fit_learns_and_records_one_entry_per_epoch():
    model = tiny_net()
    before = evaluate(model, ColourScenes(16, seed=1)).miou
    history = fit(model, ColourScenes(64), ColourScenes(16, seed=1), **{**FIT, "epochs": 4})
    assert isinstance(history, History)
    assert history.epochs == 4 and len(history.val_miou) == len(history.seconds) == len(history.lr) == 4
    assert history.epoch_steps == [8, 8, 8, 8]
    assert history.train_loss[-1] < history.train_loss[0]
    assert history.val_miou[-1] > max(0.6, before)
    assert not history.interrupted and not history.out_of_time
    assert "4 epochs, 32 of 32 steps" in repr(history) and "best val mIoU" in repr(history)
    assert history.completed and history.steps == history.planned_steps == 32


def test_same_seed_gives_identical_losses_on_the_cpu():
    runs = [fit(tiny_net(0), ColourScenes(24), seed=3, **FIT).train_loss for _ in range(2)]
    assert runs[0] == runs[1]
    assert fit(tiny_net(0), ColourScenes(24), seed=4, **FIT).train_loss != runs[0]  # shuffling differs


def test_cpu_training_runs_channels_last_and_hands_back_the_usual_layout():
    model, layouts = tiny_net(), []
    model.register_forward_pre_hook(
        lambda module, inputs: layouts.append(inputs[0].is_contiguous(memory_format=torch.channels_last)))
    fit(model, ColourScenes(16), **FIT)
    assert layouts and all(layouts)  # every training batch went in channels-last
    assert all(p.is_contiguous() for p in model.parameters())
    assert model(torch.rand(2, 3, 8, 8)).is_contiguous()


def epoch_end_weights(model, steps_per_epoch, epoch, saved, then=None):
    """A loss that copies the model's weights as they are at the end of ``epoch`` (at the first step
    of the next one, before it changes them) into ``saved``, then calls ``then()``."""
    calls = []

    def loss(logits, target):
        calls.append(1)
        if len(calls) == epoch * steps_per_epoch + 1:
            saved.update(copy.deepcopy(model.state_dict()))
            if then is not None:
                then()
        return F.cross_entropy(logits, target, ignore_index=255)

    return loss


def assert_weights(model, saved):
    for name, tensor in model.state_dict().items():
        assert torch.equal(tensor, saved[name]), name


def test_best_validation_weights_are_restored_at_the_end():
    model = tiny_net()
    fit(model, ColourScenes(32), **{**FIT, "epochs": 3})  # a decent model to start from
    saved = {}

    def sabotage():  # after epoch 1, break the model: later epochs score worse
        with torch.no_grad():
            model[2].bias.copy_(torch.tensor([50.0, 0.0, 0.0]))

    history = fit(model, ColourScenes(16), ColourScenes(16, seed=1), **{**FIT, "lr": 1e-9, "epochs": 3},
                  schedule=None, loss=epoch_end_weights(model, 2, 1, saved, sabotage))
    assert history.best_epoch == 1
    assert history.val_miou[0] == history.best_val_miou > history.val_miou[2]
    assert_weights(model, saved)
    assert evaluate(model, ColourScenes(16, seed=1)).miou == pytest.approx(history.val_miou[0])


def test_without_validation_the_last_weights_are_kept():
    history = fit(tiny_net(), ColourScenes(16), **FIT)
    assert history.best_epoch == 2 and history.val_miou == [None, None] and history.completed


def test_keyboard_interrupt_stops_cleanly_and_keeps_the_best_weights():
    model, saved = tiny_net(), {}

    def interrupt():
        raise KeyboardInterrupt

    history = fit(model, ColourScenes(24), ColourScenes(8, seed=1), **{**FIT, "epochs": 3},
                  loss=epoch_end_weights(model, 3, 1, saved, interrupt))
    assert history.interrupted and not history.completed and history.stopped_by == "interrupted"
    assert history.epoch_steps == [3] and history.steps == 3 and history.best_epoch == 1
    assert_weights(model, saved)
    assert "interrupted: undertrained" in repr(history)


def test_ctrl_c_while_the_best_weights_are_copied_keeps_the_previous_best(monkeypatch):
    from segedu.train import helpers

    model, saved, copies = tiny_net(), {}, []
    real_deepcopy = copy.deepcopy

    def deepcopy_interrupted_the_second_time(value):
        copies.append(1)
        if len(copies) == 2:
            raise KeyboardInterrupt
        return real_deepcopy(value)

    import types

    monkeypatch.setattr(helpers, "copy", types.SimpleNamespace(deepcopy=deepcopy_interrupted_the_second_time))
    # The model learns: epoch 1's validation is the best so far (copied), epoch 2's is better still, and
    # its copy is interrupted.
    history = fit(model, ColourScenes(64), ColourScenes(8, seed=1), **{**FIT, "epochs": 3}, schedule=None,
                  loss=epoch_end_weights(model, 8, 1, saved))
    assert history.interrupted and copies == [1, 1]
    assert history.best_epoch == 1 and history.val_miou[1] is None  # epoch 2 was never kept: not reported
    assert_weights(model, saved)


def test_divergence_after_a_good_epoch_hands_back_the_best_weights():
    model, saved = tiny_net(), {}
    calls = []

    def diverging(logits, target):
        calls.append(1)
        if len(calls) == 3:  # epoch 2, step 1
            saved.update(copy.deepcopy(model.state_dict()))
            return logits.sum() * math.nan
        return F.cross_entropy(logits, target)

    with pytest.raises(FloatingPointError, match="loss became nan at step 3.*now holds the weights of epoch 1"):
        fit(model, ColourScenes(16), ColourScenes(8, seed=1), **{**FIT, "epochs": 3}, loss=diverging)
    assert_weights(model, saved)
    assert all(torch.isfinite(p).all() for p in model.parameters())


def test_progress_bars_and_the_time_estimate_are_shown_only_when_asked(capsys):
    fit(tiny_net(), ColourScenes(64), **{**FIT, "progress": True})
    shown = capsys.readouterr()
    assert "epochs: 100%" in shown.err and "loss=" in shown.err
    assert "1 of 16 steps took" in shown.out + shown.err and "should take about" in shown.out + shown.err
    fit(tiny_net(), ColourScenes(16), **FIT)
    assert capsys.readouterr() == ("", "")


def slow_clock(seconds_per_look):
    """A clock that runs ``seconds_per_look`` seconds further every time it is read: a machine whose
    every step takes that long (whatever the real speed)."""
    ticks = iter(seconds_per_look * k for k in range(10**7))
    return lambda: next(ticks)


def test_a_machine_ten_times_slower_trains_the_same_weights(monkeypatch):
    from segedu.train import helpers

    data, val = ColourScenes(32), ColourScenes(8, seed=1)
    reference = tiny_net()
    fit(reference, data, val, **{**FIT, "epochs": 3}, schedule="onecycle")
    real_step = helpers.clock()
    monkeypatch.setattr(helpers, "clock", slow_clock(10.0))  # every step "takes" 10 s or more
    slow = tiny_net()
    history = fit(slow, data, val, **{**FIT, "epochs": 3}, schedule="onecycle", max_seconds=10**6)
    assert history.completed and history.steps == history.planned_steps == 12
    assert_weights(slow, reference.state_dict())
    assert real_step > 0


def test_the_time_cap_only_stops_training_and_marks_it(monkeypatch):
    from segedu.train import helpers

    monkeypatch.setattr(helpers, "clock", slow_clock(10.0))
    history = fit(tiny_net(), ColourScenes(32), ColourScenes(8, seed=1), **{**FIT, "epochs": 20}, schedule="poly",
                  max_seconds=35)
    assert history.out_of_time and history.stopped_by == "time cap" and not history.completed
    assert history.planned_steps == 80 and 0 < history.steps < 10
    # The schedule follows the steps, never the clock: step k of 80 ran at lr * (1 - (k - 1) / 80) ** 0.9.
    assert history.lr[-1] == pytest.approx(FIT["lr"] * (1 - (history.steps - 1) / 80) ** 0.9)
    assert history.val_miou[-1] is not None  # the stopped model is scored, and marked undertrained
    assert "stopped by the time cap: undertrained" in repr(history)


def test_a_batch_of_ignored_pixels_gives_zero_loss_not_nan_and_is_skipped():
    logits = torch.randn(2, 3, 4, 4, requires_grad=True)
    ignored = torch.full((2, 4, 4), 255)
    assert math.isnan(F.cross_entropy(logits.detach(), ignored, ignore_index=255))  # the pitfall
    value = pixel_cross_entropy(logits, ignored)
    value.backward()
    assert value.item() == 0.0 and torch.count_nonzero(logits.grad) == 0
    history = fit(tiny_net(), ColourScenes(8, ignore=2), **{**FIT, "batch_size": 1})
    assert history.skipped_batches == 8 and history.epoch_steps == [4, 4]
    assert all(math.isfinite(loss) for loss in history.train_loss)


def test_uint8_masks_train_like_int64_masks():
    wide = fit(tiny_net(), ColourScenes(16), **FIT).train_loss
    assert fit(tiny_net(), ColourScenes(16, mask_dtype=torch.uint8), **FIT).train_loss == wide


def test_default_loss_is_cross_entropy_over_labelled_pixels_with_class_weights():
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 3, 5, 5, generator=generator)
    target = torch.randint(0, 3, (2, 5, 5), generator=generator)
    target[0, 0] = 255
    weights = torch.tensor([0.2, 1.0, 3.0])
    expected = F.cross_entropy(logits, target, weight=weights, ignore_index=255)
    assert pixel_cross_entropy(logits, target, weights).item() == pytest.approx(expected.item())
    history = fit(tiny_net(), ColourScenes(8), **FIT, class_weights=[0.2, 1.0, 3.0])
    assert all(math.isfinite(loss) for loss in history.train_loss)
    with pytest.raises(ValueError, match="one weight per class"):
        fit(tiny_net(), ColourScenes(8), **FIT, class_weights=[1.0, 2.0])


def test_aux_output_adds_a_weighted_upsampled_aux_loss():
    sizes = []

    def spy(logits, target):
        sizes.append(tuple(logits.shape[-2:]))
        return F.cross_entropy(logits, target)

    fit(AuxNet(), ColourScenes(8), **{**FIT, "epochs": 1}, loss=spy)
    assert sizes == [(8, 8), (8, 8)]  # main, then aux upsampled to the mask size
    sizes.clear()
    fit(AuxNet(), ColourScenes(8), **{**FIT, "epochs": 1}, loss=spy, aux_weight=0.0)
    assert sizes == [(8, 8)]
    # The recorded loss is main + 0.4 * aux, at the weights of that step.
    model = AuxNet()
    start = copy.deepcopy(model)
    history = fit(model, ColourScenes(8), **{**FIT, "epochs": 1, "lr": 1e-12})
    start.train()
    images, masks = ColourScenes(8).batch(range(8))["image"], ColourScenes(8).batch(range(8))["mask"]
    out = start(images)
    aux = F.interpolate(out["aux"], size=(8, 8), mode="bilinear", align_corners=False)
    expected = F.cross_entropy(out["out"], masks) + 0.4 * F.cross_entropy(aux, masks)
    assert history.train_loss[0] == pytest.approx(expected.item(), rel=1e-5)


@pytest.mark.parametrize("schedule", ["poly", "cosine", "onecycle", None])
def test_learning_rate_schedules_per_step(schedule):
    history = fit(tiny_net(), ColourScenes(16), **{**FIT, "epochs": 2, "lr": 0.01}, schedule=schedule)
    # 2 epochs x 2 steps; history.lr holds the rate of steps 1 and 3 (counting from 0) of 4.
    if schedule == "poly":
        assert history.lr == pytest.approx([0.01 * (1 - 1 / 4) ** 0.9, 0.01 * (1 - 3 / 4) ** 0.9])
    elif schedule == "cosine":
        assert history.lr == pytest.approx([0.005 * (1 + math.cos(math.pi / 4)), 0.005 * (1 + math.cos(3 * math.pi / 4))])
    elif schedule == "onecycle":  # ends at max_lr / 25 / 1e4
        assert history.lr[-1] == pytest.approx(0.01 / 25 / 1e4) and history.lr[0] > 1e-3
    else:
        assert history.lr == [0.01, 0.01]


def test_optimizer_choices():
    for optimizer in ("adamw", "adam", "sgd", torch.optim.RMSprop):
        assert fit(tiny_net(), ColourScenes(8), **FIT, optimizer=optimizer).epochs == 2
    with pytest.raises(ValueError, match="Unknown optimizer 'lbfgs'"):
        fit(tiny_net(), ColourScenes(8), **FIT, optimizer="lbfgs")
    with pytest.raises(ValueError, match="Unknown schedule 'step'"):
        fit(tiny_net(), ColourScenes(8), **FIT, schedule="step")


def test_bad_training_input_gives_clear_errors():
    with pytest.raises(TypeError, match="integer class ids"):
        fit(tiny_net(), ColourScenes(8, mask_dtype=torch.float32), **FIT)
    with pytest.raises(ValueError, match=r"class id\(s\) 3, 4 outside \[0, 3\)"):
        fit(tiny_net(), ColourScenes(8, offset=2), **FIT)
    with pytest.raises(ValueError, match="outputs 5 channels but the dataset has 3 classes"):
        fit(tiny_net(out_channels=5), ColourScenes(8), **FIT)
    strided = nn.Conv2d(3, 3, 3, stride=2, padding=1)
    with pytest.raises(ValueError, match=r"logits size \(4, 4\) differs from the mask size \(8, 8\)"):
        fit(strided, ColourScenes(8), **FIT)
    with pytest.raises(ValueError, match="empty"):
        fit(tiny_net(), ColourScenes(0), **FIT)
    with pytest.raises(ValueError, match="epochs must be a positive int"):
        fit(tiny_net(), ColourScenes(8), **{**FIT, "epochs": 0})
    with pytest.raises(TypeError, match="takes a Dataset, not a DataLoader.*loader.dataset"):
        fit(tiny_net(), torch.utils.data.DataLoader(ColourScenes(8), batch_size=4), **FIT)


class Altered(ColourScenes):
    """ColourScenes whose items go through ``change(index, image, mask) -> (image, mask)``."""

    def __init__(self, change, length=8, **options):
        super().__init__(length, **options)
        self.change = change

    def __getitem__(self, index):
        return self.change(index, *super().__getitem__(index))


def test_masks_without_a_labelled_pixel_are_refused_and_leave_the_model_unchanged():
    model = tiny_net()
    before = copy.deepcopy(model.state_dict())
    with pytest.raises(ValueError, match=r"Every pixel of every training mask is the ignore label 255 \(4 batches, "
                                         r"not one labelled pixel\).*model was not changed.*0 to C - 1"):
        fit(model, ColourScenes(8, ignore=1), **{**FIT, "batch_size": 2})
    assert_weights(model, before)


def test_class_weights_that_cannot_work_are_refused_up_front():
    for weights, error, message in (
            ([0, 0, 0], ValueError, r"class_weights are all 0 \(\[0.0, 0.0, 0.0\]\): no pixel would count"),
            ([1, math.nan, 1], ValueError, "class_weights hold NaN or infinite values"),
            ([1, -1, 1], ValueError, r"must be >= 0.*negative for class\(es\) \[1\].*Use 0 to leave a class out"),
            (["a", "b", "c"], TypeError, "class_weights must be a sequence of numbers")):
        with pytest.raises(error, match=message):
            fit(tiny_net(), ColourScenes(8), **FIT, class_weights=weights)


def test_a_batch_whose_labelled_pixels_all_weigh_zero_adds_nothing_instead_of_nan():
    logits = torch.randn(2, 3, 4, 4, requires_grad=True)
    background = torch.zeros(2, 4, 4, dtype=torch.long)
    weights = torch.tensor([0.0, 1.0, 1.0])
    assert math.isnan(F.cross_entropy(logits.detach(), background, weight=weights))  # the pitfall
    value = pixel_cross_entropy(logits, background, weights)
    value.backward()
    assert value.item() == 0.0 and torch.count_nonzero(logits.grad) == 0
    only_background = Altered(lambda index, image, mask: (image, torch.zeros_like(mask) if index % 2 else mask))
    history = fit(tiny_net(), only_background, **{**FIT, "batch_size": 1}, class_weights=[0.0, 1.0, 1.0])
    assert history.completed and all(math.isfinite(loss) for loss in history.train_loss)


def test_nan_images_are_blamed_on_the_data_not_the_learning_rate():
    model = nn.Sequential(nn.Conv2d(3, 4, 1), nn.BatchNorm2d(4), nn.Conv2d(4, 3, 1))
    before = copy.deepcopy(model.state_dict())
    broken = Altered(lambda index, image, mask: (image / 0 * 0 if index == 3 else image, mask))  # 0 / 0 = NaN
    with pytest.raises(ValueError, match=r"first batch of images holds 192 NaN or infinite value\(s\): the data "
                                         r"is broken.*normali[sz]ed"):
        fit(model, broken, **{**FIT, "batch_size": 8})
    assert_weights(model, before)  # not even BatchNorm's running statistics took the NaN

    class LaterNaN(ColourScenes):  # finite during the first step, NaN afterwards
        served = 0

        def __getitem__(self, index):
            image, mask = super().__getitem__(index)
            self.served += 1
            return (image * math.nan if self.served > 4 else image), mask

    with pytest.raises(FloatingPointError, match=r"loss became nan at step 2: the images of that batch hold 768 "
                                                 r"NaN.*not the training"):
        fit(tiny_net(), LaterNaN(16), **{**FIT, "batch_size": 4})


def test_a_loss_that_is_nan_before_any_update_is_not_blamed_on_the_learning_rate():
    with pytest.raises(FloatingPointError, match="loss became nan at step 1, on the first batch, before any update: "
                                                 "the learning rate is not the cause.*Check the loss function"):
        fit(tiny_net(), ColourScenes(8), **FIT, loss=lambda logits, target: logits.sum() * math.nan)
    broken = tiny_net()
    with torch.no_grad():
        broken[0].weight[0, 0] = math.inf
    with pytest.raises(FloatingPointError, match="weights held NaN or infinite values before training started"):
        fit(broken, ColourScenes(8), **FIT)


def test_masks_and_items_of_the_wrong_shape_say_how_to_fix_them():
    def one_hot(index, image, mask):
        return image, F.one_hot(mask, 3).permute(2, 0, 1)  # 3 x H x W instead of H x W

    with pytest.raises(ValueError, match=r"masks of a batch are \(8, 3, 8, 8\): 4-D, one channel per class "
                                         r"\(one-hot\?\).*mask.argmax\(0\)"):
        fit(tiny_net(), Altered(one_hot), **FIT)
    with pytest.raises(ValueError, match=r"4-D, one channel per class"):
        fit(tiny_net(), Altered(lambda i, image, mask: (image, one_hot(i, image, mask)[1].float())), **FIT)
    smaller = Altered(lambda index, image, mask: (image[:, :6, :6], mask[:6, :6]) if index == 5 else (image, mask))
    with pytest.raises(ValueError, match=r"items of a batch have different sizes: item 0 is 3 x 8 x 8 with 8 x 8, "
                                         r"item \d 3 x 6 x 6 with 6 x 6.*train_transforms\(64\).*batch_size=1"):
        fit(tiny_net(), smaller, **FIT)
    with pytest.raises(ValueError, match="items of a batch have different sizes"):
        evaluate(tiny_net(), Subset(smaller, range(8)))
    cropped_masks = Altered(lambda index, image, mask: (image, mask[:6, :6]))
    with pytest.raises(ValueError, match=r"images of a batch are 8 x 8 but their masks 6 x 6: mask pixel \(i, j\) "
                                         r"labels image pixel \(i, j\)"):
        fit(tiny_net(), cropped_masks, **FIT)


def test_losses_that_are_not_one_differentiable_number_say_so():
    with pytest.raises(ValueError, match=r"loss returned a tensor of shape \(8, 8, 8\), not one number.*"
                                         r"reduction='mean'"):
        fit(tiny_net(), ColourScenes(8), **FIT, loss=nn.CrossEntropyLoss(reduction="none"))
    with pytest.raises(TypeError, match=r"loss returned a float \(0.5\), not a tensor.*no .item\(\)"):
        fit(tiny_net(), ColourScenes(8), **FIT, loss=lambda logits, target: 0.5)
    with pytest.raises(ValueError, match="loss has no gradient.*not from argmax"):
        fit(tiny_net(), ColourScenes(8), **FIT,
            loss=lambda logits, target: (logits.argmax(1) != target).float().mean())
    with pytest.raises(TypeError, match="loss must be a function"):
        fit(tiny_net(), ColourScenes(8), **FIT, loss="cross-entropy")


def test_a_model_name_or_a_negative_weight_decay_is_refused_with_the_fix():
    with pytest.raises(TypeError, match=r"takes a model, not a model's name.*segedu.models.build\('unet', "
                                        r"num_classes=...\)"):
        fit("unet", ColourScenes(8), **FIT)
    with pytest.raises(ValueError, match="weight_decay must be a number >= 0 .*got -1"):
        fit(tiny_net(), ColourScenes(8), **FIT, weight_decay=-1)
    with pytest.raises(ValueError, match="lr must be a positive number, got inf"):
        fit(tiny_net(), ColourScenes(8), **{**FIT, "lr": math.inf})


def test_worker_processes_fall_back_to_zero_in_a_notebook_without_fork(monkeypatch):
    import types

    from segedu.train import helpers as train

    class Context:
        def __init__(self, method):
            self.method = method

        def get_start_method(self):
            return self.method

    monkeypatch.setitem(sys.modules, "__main__", types.ModuleType("__main__"))  # like a notebook: no __file__
    monkeypatch.setattr(train.multiprocessing, "get_context", lambda: Context("spawn"))
    with pytest.warns(UserWarning, match="num_workers=2 does not work in a notebook"):
        assert train.safe_num_workers(2) == 0
    monkeypatch.setattr(train.multiprocessing, "get_context", lambda: Context("fork"))
    assert train.safe_num_workers(2) == 2
    assert train.safe_num_workers(0) == 0


# --------------------------------------------------------------------------- evaluate, predict


def test_evaluate_matches_a_hand_accumulated_confusion_matrix_and_reports_everything():
    model, data = tiny_net(), ColourScenes(12, seed=2)
    fit(model, ColourScenes(32), **FIT)
    model.train()
    scores = evaluate(model, data, batch_size=5)
    assert model.training  # mode restored
    expected = ConfusionMatrix(3)
    model.eval()
    with torch.no_grad():
        for index in range(len(data)):
            image, mask = data[index]
            expected.update(model(image[None]), mask[None])
    assert isinstance(scores, Scores) and scores.num_images == 12
    assert torch.equal(scores.confusion.matrix, expected.matrix)
    assert scores.miou == pytest.approx(expected.miou())
    assert scores.class_names == ("background", "green", "blue")
    assert list(scores.class_iou.values()) == pytest.approx(expected.iou().tolist())
    assert 0 <= scores.boundary <= 1 and scores.boundary_width == 1
    assert set(scores.size_iou) == {"small", "medium", "large"}
    assert "mIoU" in repr(scores) and "IoU blue" in repr(scores) and "<table>" in scores._repr_html_()


def test_evaluate_through_a_dataloader_path_gives_the_same_scores_without_size_info():
    model, data = tiny_net(), ColourScenes(10, seed=2)
    fast = evaluate(model, data)
    slow = evaluate(model, Subset(data, range(10)))  # no batch() method -> DataLoader path
    assert torch.equal(fast.confusion.matrix, slow.confusion.matrix)
    assert slow.size_iou is None and slow.class_names == fast.class_names


def test_absent_classes_are_reported_as_none():
    class OnlyBackground(ColourScenes):
        def __getitem__(self, index):
            image, mask = super().__getitem__(index)
            return image, torch.zeros_like(mask)

    model = tiny_net()
    with torch.no_grad():
        model[2].bias.copy_(torch.tensor([100.0, 0.0, 0.0]))  # always predicts background
    scores = evaluate(model, OnlyBackground(4))
    assert scores.class_iou == {"background": 1.0, "green": None, "blue": None}
    assert scores.miou == 1.0
    assert "absent" in repr(scores)


def test_evaluate_bad_input():
    with pytest.raises(ValueError, match="empty"):
        evaluate(tiny_net(), ColourScenes(0))
    with pytest.raises(ValueError, match=r"class id\(s\) 3, 4"):
        evaluate(tiny_net(), ColourScenes(4, offset=2))
    with pytest.raises(ValueError, match="5 channels but there are 3 classes"):
        evaluate(tiny_net(out_channels=5), ColourScenes(4))
    with pytest.raises(ValueError, match="differs from the mask size"):
        evaluate(nn.Conv2d(3, 3, 3, stride=2, padding=1), ColourScenes(4))


def test_predict_accepts_one_image_or_a_batch_and_restores_the_mode():
    model, data = AuxNet(), ColourScenes(5)
    images = data.batch(range(5))["image"]
    model.train()
    batch = predict(model, images, batch_size=2)
    assert batch.shape == (5, 8, 8) and batch.dtype == torch.int64 and model.training
    single = predict(model, images[0])
    assert single.shape == (8, 8) and torch.equal(single, batch[0])
    with torch.no_grad():
        model.eval()
        assert torch.equal(batch, model(images).argmax(1))
    with pytest.raises(ValueError, match="3 x H x W or N x 3 x H x W"):
        predict(model, images[0, 0])
    broken = tiny_net()
    with torch.no_grad():
        broken[2].weight.fill_(math.nan)
    with pytest.raises(ValueError, match="logits hold NaN or infinite values"):  # not class 0 everywhere
        predict(broken, images)


# --------------------------------------------------------------------------- with the course's models and data


def test_every_registered_model_trains_and_evaluates_through_fit():
    from segedu import models

    data = ColourScenes(8, size=32)
    for name in models.MODEL_NAMES:
        torch.manual_seed(0)
        model = models.build(name, data.num_classes)
        history = fit(model, data, **{**FIT, "epochs": 1})
        assert history.epoch_steps == [1] and math.isfinite(history.train_loss[0]), name
        scores = evaluate(model, data)
        assert 0 <= scores.miou <= 1 and scores.confusion.total == 8 * 32 * 32, name


def test_pspnet_aux_head_is_trained_by_the_aux_loss():
    from segedu import models

    torch.manual_seed(0)
    model = models.build("pspnet", 3, aux_head=True)
    before = copy.deepcopy(model.aux_head.state_dict())
    fit(model, ColourScenes(8, size=32), **{**FIT, "epochs": 1})
    changed = [not torch.equal(before[k], v) for k, v in model.aux_head.state_dict().items()]
    assert any(changed)
    torch.manual_seed(0)
    model = models.build("pspnet", 3, aux_head=True)
    fit(model, ColourScenes(8, size=32), **{**FIT, "epochs": 1}, aux_weight=0.0)
    weights = [k for k in before if k.endswith("weight")]
    assert all(torch.equal(before[k], model.aux_head.state_dict()[k]) for k in weights)


def test_synthetic_scenes_give_size_bucket_scores_and_checkpoints_round_trip(tmp_path):
    data_module = pytest.importorskip("segedu.data")
    from segedu import models
    from segedu.metrics import BucketedConfusion
    from segedu.train import load, save

    train = data_module.SyntheticScenes("train", "mixed", size=32, length=16)
    test = data_module.SyntheticScenes("test", "mixed", size=32, length=8)
    torch.manual_seed(0)
    model = models.build("unet", train.num_classes)
    history = fit(model, train, test, **{**FIT, "epochs": 1, "lr": 3e-3})
    scores = evaluate(model, test)
    assert scores.class_names == tuple(train.classes) and scores.miou == pytest.approx(history.val_miou[0])
    batch = test.batch(range(8))
    expected = BucketedConfusion(train.num_classes)
    expected.update(predict(model, batch["image"]), batch["mask"], batch["size_bucket"])
    assert scores.size_iou == expected.miou() and set(scores.size_iou) == set(data_module.SIZE_BUCKETS)
    path = save(model, tmp_path / "unet.pt", meta={"track": "mixed", "miou": scores.miou})
    torch.manual_seed(1)
    restored, meta = load(path, models.build("unet", train.num_classes))
    assert meta["track"] == "mixed" and meta["model_class"] == type(model).__name__
    assert torch.equal(predict(restored, batch["image"]), predict(model, batch["image"]))


def test_a_model_with_nan_classifier_weights_is_refused_by_evaluate_not_scored_as_class_0():
    # argmax of NaN logits is class 0, so such a model used to get a score (mIoU 0.27, accuracy 0.81 in the issue).
    model = tiny_net()
    with torch.no_grad():
        model[-1].weight.fill_(math.nan)
    with pytest.raises(ValueError, match=r"The logits hold 192 NaN or infinite value\(s\) out of 192: the model's "
                                         r"weights or its input are not finite.*reload good weights"):
        evaluate(model, ColourScenes(4), batch_size=1)
