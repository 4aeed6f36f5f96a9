"""The claim checks: margins on medians, orderings in every seed, missing runs left out."""

from segedu import story


def record(model, track, seed, miou, boundary=0.5, labelled=None, size_iou=None):
    return {"model": model, "track": track, "seed": seed, "miou": miou, "boundary": boundary,
            "labelled": labelled, "size_iou": size_iou}


def test_compare_needs_the_margin_on_the_median_and_the_order_in_every_seed():
    records = [record("a", "t", s, m) for s, m in enumerate([0.70, 0.72, 0.74])]
    records += [record("b", "t", s, m) for s, m in enumerate([0.60, 0.61, 0.62])]
    claim = story.compare(records, "t", "a", "b", 0.10, "a beats b")
    assert claim.holds and "+0.110" in claim.detail
    assert not story.compare(records, "t", "a", "b", 0.12, "a beats b by more").holds
    records.append(record("c", "t", 0, 0.90))
    records += [record("c", "t", s, m) for s, m in ((1, 0.50), (2, 0.90))]
    # c beats b on the median (0.29) but loses in seed 1: the claim does not hold.
    assert not story.compare(records, "t", "c", "b", 0.05, "c beats b").holds


def test_compare_is_none_when_a_run_is_missing():
    assert story.compare([record("a", "t", 0, 0.5)], "t", "a", "b", 0.0, "x") is None


def test_larger_gain_on_large_objects():
    size = lambda small, large: {"small": small, "medium": 0.5, "large": large}  # noqa: E731
    records = [record("enc", "s", 0, 0.6, size_iou=size(0.5, 0.8)), record("plain", "s", 0, 0.4, size_iou=size(0.6, 0.3))]
    claim = story.larger_gain_on_large_objects(records, "s", "enc", "plain")
    assert claim.holds and "+0.600" in claim.detail
    records[0]["size_iou"] = size(0.9, 0.4)
    assert not story.larger_gain_on_large_objects(records, "s", "enc", "plain").holds


def test_best_reaches_uses_the_best_median():
    records = [record("unet", "mixed", s, 0.65) for s in range(3)]
    records += [record("pspnet", "mixed", s, m) for s, m in enumerate([0.69, 0.71, 0.72])]
    claim = story.best_reaches(records, "mixed", ("pspnet", "unet"), 0.70)
    assert claim.holds and claim.detail.startswith("pspnet: median 0.710")


def test_check_claims_only_reports_what_the_records_decide():
    records = [record("encdec", "shapes", 0, 0.7), record("plain", "shapes", 0, 0.5)]
    claims = story.check_claims(records)
    assert [c.text for c in claims] == ["shapes: the encoder-decoder beats the plain CNN by >= 0.10 mIoU"]
    assert claims[0].holds


def test_plot_leaderboard_draws_one_panel_per_track(tmp_path):
    records = [record("a", "t1", 0, 0.5), record("b", "t2", 0, 0.6), record("a", "t2", 1, 0.7, labelled=64)]
    figure = story.plot_leaderboard(records, tmp_path / "board.png")
    assert len(figure.axes) == 2 and (tmp_path / "board.png").stat().st_size > 0
    assert [t.get_text() for t in figure.axes[1].get_xticklabels()] == ["b", "a@64"]
