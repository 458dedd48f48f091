"""Confirmation (two frames or a valid check digit) and de-duplication within a window."""

from __future__ import annotations

from drivers.camera.confirm import Confirmer, gs1_validates
from drivers.camera.decoders import Symbol

BOX = ((0.0, 0.0), (10.0, 0.0), (10.0, 5.0), (0.0, 5.0))


def sym(raw: str, dx: float = 0.0) -> Symbol:
    return Symbol("X", raw[:3], raw[3:], tuple((x + dx, y) for x, y in BOX))


def test_valid_check_digit_confirms_on_first_frame() -> None:
    c = Confirmer(window=1.0)
    [obs] = c.update("cam", 0, 0.0, [sym("]E09506000134352")])
    assert obs.confirmed and obs.valid and obs.frames == 1


def test_bad_check_digit_and_odd_itf_need_two_frames() -> None:
    c = Confirmer(window=1.0)
    bad_ean, itf6 = sym("]E09506000134353"), sym("]I0123456")
    assert c.update("cam", 0, 0.0, [bad_ean, itf6]) == []
    assert {o.raw for o in c.update("cam", 1, 0.04, [bad_ean, itf6])} == {bad_ean.raw, itf6.raw}


def test_non_gs1_code_is_kept_but_needs_two_frames() -> None:
    assert not gs1_validates("]C0HELLO")
    c = Confirmer(window=1.0)
    assert c.update("cam", 0, 0.0, [sym("]C0HELLO")]) == []
    [closed] = c.flush()
    assert not closed.confirmed and closed.raw == "]C0HELLO"


def test_same_code_within_window_is_one_observation() -> None:
    c = Confirmer(window=0.5)
    s = sym("]C100106141411234567897")
    c.update("cam", 0, 0.00, [s])
    c.update("cam", 1, 0.04, [s, s])  # twice in one frame counts once
    c.update("cam", 5, 0.40, [sym(s.raw, dx=7.0)])
    c.update("other", 5, 0.40, [s])  # another camera: its own observation
    assert c.expire(0.8) == []
    closed = {o.camera: o for o in c.expire(1.0)}
    obs = closed["cam"]
    assert (obs.first_seen, obs.last_seen, obs.frames, obs.first_frame, obs.last_frame) == (0.0, 0.4, 3, 0, 5)
    assert obs.position[0] == (7.0, 0.0)  # the latest position
    assert closed["other"].frames == 1


def test_reappearing_after_window_is_a_new_observation() -> None:
    c = Confirmer(window=0.5)
    s = sym("]E09506000134352")
    assert len(c.update("cam", 0, 0.0, [s])) == 1
    assert c.update("cam", 1, 0.3, [s]) == []  # already confirmed: not again
    assert len(c.update("cam", 50, 2.0, [s])) == 1  # gone for longer than the window
