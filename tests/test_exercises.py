"""The exercise checkers: reference solutions pass, typical wrong answers get specific messages."""

from __future__ import annotations

import math

import numpy as np
import pytest

from course_lib.exercises import (
    CheckResult,
    FunctionExercise,
    ThoughtExercise,
    ValueExercise,
    all_exercises,
    ch1,
    ch2,
    ch3,
    ch4,
    ch5,
    ch6,
    ch7,
    table,
)
from course_lib.exercises.core import compare, format_value

ALL = [ex for exercises in all_exercises().values() for ex in exercises]
IDS = [ex.name for ex in ALL]


def _reference_answer(ex):
    if isinstance(ex, FunctionExercise):
        return ex.reference
    if isinstance(ex, ValueExercise):
        return ex.expected
    return None


# -- inventory -----------------------------------------------------------------------------------


def test_at_least_21_exercises_and_three_per_chapter():
    chapters = all_exercises()
    assert sorted(chapters) == [1, 2, 3, 4, 5, 6, 7]
    assert all(len(exercises) >= 3 for exercises in chapters.values())
    assert len(ALL) >= 21


def test_every_chapter_mixes_kinds_and_names_are_consistent():
    kinds = {type(ex) for ex in ALL}
    assert kinds == {FunctionExercise, ValueExercise, ThoughtExercise}
    for number, exercises in all_exercises().items():
        assert [ex.number for ex in exercises] == list(range(1, len(exercises) + 1))
        assert all(ex.chapter == number and ex.title for ex in exercises)
    assert len({ex.label for ex in ALL}) == len(ALL)


def test_function_exercises_have_at_least_four_cases_and_two_hints():
    for ex in ALL:
        assert ex.hints, ex.name
        if isinstance(ex, FunctionExercise):
            assert len(ex.cases) >= 4, ex.name


def test_table_lists_every_exercise():
    text = table()
    assert all(f"`{ex.name}`" in text for ex in ALL)


# -- reference solutions pass ----------------------------------------------------------------------


@pytest.mark.parametrize("ex", ALL, ids=IDS)
def test_reference_solution_passes(ex, capsys):
    result = ex.check(_reference_answer(ex))
    out = capsys.readouterr().out
    if isinstance(ex, ThoughtExercise):
        assert result.ok is None
        assert f"{ex.name}.solution()" in out
    else:
        assert result.ok is True, result.message
        assert out.startswith("✓")


@pytest.mark.parametrize("ex", ALL, ids=IDS)
def test_hint_and_solution_print_something(ex, capsys):
    ex.hint()
    assert "Hint 1/" in capsys.readouterr().out
    ex.hint(len(ex.hints) + 1)
    assert f"has {len(ex.hints)} hint" in capsys.readouterr().out
    ex.solution()
    out = capsys.readouterr().out
    assert f"Solution to {ex.name}" in out and len(out) > 60


def test_last_hint_says_there_are_no_more(capsys):
    ch1.ex1.hint(len(ch1.ex1.hints))
    assert "no more hints" in capsys.readouterr().out


# -- typical wrong answers are rejected with a message naming the failing case ---------------------


def _conv_flipped(image, kernel):
    return ch1.conv2d_valid(image, kernel[::-1, ::-1])


def _pool_from_zero(x, size=2, stride=None):
    stride = size if stride is None else stride
    out = ch1.max_pool2d(x, size, stride)
    return np.maximum(out, 0)


def _lstm_wrong_gate_order(x, h, c, W, U, b):
    z = x @ W + h @ U + b
    H = h.shape[-1]
    sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    i, f, o, g = sig(z[:, :H]), sig(z[:, H : 2 * H]), sig(z[:, 2 * H : 3 * H]), z[:, 3 * H :]
    c_new = f * c + i * np.tanh(g)
    return o * np.tanh(c_new), c_new


def _naive_softmax(z):
    return np.exp(z) / np.exp(z).sum(axis=-1, keepdims=True)


def _no_bgr(rgb):
    return rgb.astype(np.float32) - np.array([103.939, 116.779, 123.68], dtype=np.float32)


def _tutorial_clean(text):
    return [w for w in ch5.clean_caption(text) if len(w) > 1]


def _prefix_off_by_one(ids):
    return [(list(ids[:i]), ids[i]) for i in range(len(ids))]


def _shift_batch_axis(ids):
    return ids[:-1], ids[1:]


def _plain_mean(losses, targets, pad_id=0):
    return float(np.mean(losses))


def _unclipped(hyp, refs, n):
    grams = [tuple(hyp[i : i + n]) for i in range(len(hyp) - n + 1)]
    ref_grams = {tuple(r[i : i + n]) for r in refs for i in range(len(r) - n + 1)}
    return sum(g in ref_grams for g in grams) / len(grams) if grams else 0.0


def _bp_no_case(c, r):
    return math.exp(1 - r / c) if c else 0.0


def _closest_first(hyp_len, ref_lens):
    return min(ref_lens, key=lambda r: abs(r - hyp_len))


def _beam_ignores_scores(log_probs, beam_scores, k):
    return ch7.beam_step(log_probs, np.zeros_like(beam_scores), k)


# name -> (wrong answer, substrings the message must contain)
WRONG = {
    "ch1.ex1": (
        lambda n, k, stride=1, padding=0: (n - k) // stride + 1,
        ["conv_output_size(n=5, k=3, stride=2, padding=1): expected 3, got 2"],
    ),
    "ch1.ex2": (_conv_flipped, ["conv2d_valid(image=", "kernel=np.array([[ 1., 0., -1.]"]),
    "ch1.ex3": (_pool_from_zero, ["max_pool2d(x=", "[negative values]", "start the running"]),
    "ch1.ex4": (432, ["you answered 432", "bias"]),
    "ch2.ex1": (_lstm_wrong_gate_order, ["lstm_step(x=", "h=", "gate order"]),
    "ch2.ex2": (131_328, ["you answered 131328", "four"]),
    "ch2.ex3": (_naive_softmax, ["softmax(logits=np.array([1000., 1000., 999.]", "large logits"]),
    "ch2.ex4": (1_280_000, ["you answered 1280000", "bias"]),
    "ch3.ex1": ((8, 1000), ["you answered (8, 1000)", "return_sequences"]),
    "ch3.ex2": (lambda image_vec, seq: image_vec + seq, ["merge_add(image_vec=", "raised"]),
    "ch3.ex4": (1_048_576, ["you answered 1048576", "biases"]),
    "ch4.ex1": (_no_bgr, ["vgg16_preprocess(rgb=np.array([[[255, 0, 0]]]", "one red pixel"]),
    "ch4.ex2": (1000, ["you answered 1000", "softmax"]),
    "ch4.ex4": (132.56, ["you answered 132.56", "MB"]),
    "ch5.ex1": (_tutorial_clean, ["clean_caption(text='A dog runs on the grass .')", "'a'"]),
    "ch5.ex2": (_prefix_off_by_one, ["per_prefix_samples(ids=[2, 7, 3])", "expected 2 items"]),
    "ch5.ex3": (9.29, ["you answered 9.29", "GiB"]),
    "ch5.ex4": (12, ["you answered 12", "lower-cases"]),
    "ch6.ex1": (_shift_batch_axis, ["shift_for_teacher_forcing(ids=", "axis 1"]),
    "ch6.ex2": (_plain_mean, ["masked_mean_loss(losses=", "padding must not count"]),
    "ch6.ex4": (468, ["you answered 468", "round up"]),
    "ch7.ex1": (_unclipped, ["clipped_precision(hyp=['the', 'the',", "[clipping"]),
    "ch7.ex2": (_bp_no_case, ["brevity_penalty(c=12, r=10): expected 1, got 1.18"]),
    "ch7.ex3": (_closest_first, ["closest_ref_length(hyp_len=10, ref_lens=[11, 9])", "tie"]),
    "ch7.ex4": (_beam_ignores_scores, ["beam_step(log_probs=", "beam_scores=", "all beams"]),
    "ch7.ex6": (0.0, ["you answered 0", "startseq"]),
}


def test_every_checkable_exercise_has_a_wrong_answer_test():
    checkable = {ex.name for ex in ALL if not isinstance(ex, ThoughtExercise)}
    assert checkable == set(WRONG)


@pytest.mark.parametrize("name", sorted(WRONG))
def test_typical_wrong_answer_is_rejected_with_the_failing_case(name, capsys):
    ex = next(e for e in ALL if e.name == name)
    answer, expected_parts = WRONG[name]
    result = ex.check(answer)
    out = capsys.readouterr().out
    assert result.ok is False
    assert out.startswith("✗")
    for part in expected_parts:
        assert part in result.message, (part, result.message)


def test_merge_add_plain_broadcasting_is_caught_when_batch_equals_time():
    ex = ch3.ex2

    # Only the B == T case broadcasts; the others raise. Check the first case that runs.
    def plain(image_vec, seq):
        if image_vec.shape[0] != seq.shape[1]:
            return ch3.merge_add(image_vec, seq)
        return image_vec + seq

    result = ex.check(plain)
    assert result.ok is False
    assert "B == T" in result.message and "broadcasts" in result.message


# -- robustness: exceptions, not answered, wrong types ---------------------------------------------


def test_exception_in_student_code_is_reported_with_the_input(capsys):
    def bp(c, r):
        return 1.0 if c > r else math.exp(1 - r / c)

    result = ch7.ex2.check(bp)
    assert result.ok is False
    assert "brevity_penalty(c=0, r=5) raised ZeroDivisionError" in result.message


@pytest.mark.parametrize("placeholder", [..., None])
def test_placeholders_are_not_answered_yet(placeholder, capsys):
    for ex in (ch1.ex1, ch1.ex4):
        result = ex.check(placeholder)
        assert result.ok is None
        assert "not answered yet" in result.message
    assert capsys.readouterr().out.startswith("•")


def test_not_implemented_error_is_not_answered_yet(capsys):
    def conv_output_size(n, k, stride=1, padding=0):
        raise NotImplementedError()

    result = ch1.ex1.check(conv_output_size)
    assert result == CheckResult(None, result.message)
    assert "not answered yet" in result.message


def test_function_returning_none_suggests_a_missing_return(capsys):
    def clean_caption(text):
        text.lower().split()

    result = ch5.ex1.check(clean_caption)
    assert result.ok is False and "forget `return`" in result.message


def test_passing_a_value_to_a_function_exercise_is_explained(capsys):
    result = ch1.ex1.check(3)
    assert result.ok is False and "expected a function" in result.message


def test_student_cannot_mutate_the_test_cases(capsys):
    def destructive(x, size=2, stride=None):
        out = ch1.max_pool2d(x, size, stride)
        x[...] = 0
        return out

    assert ch1.ex3.check(destructive).ok is True
    assert ch1.ex3.check(ch1.max_pool2d).ok is True


def test_thought_exercise_check_explains_how_to_see_the_model_answer(capsys):
    result = ch2.ex5.check()
    assert result.ok is None
    assert "no automatic check" in result.message and "ch2.ex5.solution()" in result.message


def test_strict_mode_raises_on_wrong_answers_only(monkeypatch, capsys):
    monkeypatch.setenv("COURSE_EXERCISES_STRICT", "1")
    with pytest.raises(AssertionError, match="you answered 432"):
        ch1.ex4.check(432)
    assert ch1.ex4.check(...).ok is None
    assert ch1.ex4.check(448).ok is True


def test_check_result_is_truthy_only_when_correct():
    assert CheckResult(True, "")
    assert not CheckResult(False, "")
    assert not CheckResult(None, "")


def test_slow_student_code_is_stopped(monkeypatch, capsys):
    import course_lib.exercises.core as core

    monkeypatch.setattr(core, "TIME_LIMIT_S", 1)

    def conv_output_size(n, k, stride=1, padding=0):
        while True:
            pass

    result = ch1.ex1.check(conv_output_size)
    assert result.ok is False and "took longer than 1 s" in result.message


def test_compare_and_format_value():
    assert compare(3, 3) is None
    assert compare(3, 3.0) is None
    assert "expected 3" in compare(3, 4)
    assert compare(0.1 + 0.2, 0.3) is None
    assert compare([1, (2, 3)], (1, [2, 3])) is None
    assert "shape" in compare(np.zeros((2, 2)), np.zeros((2, 3)))
    assert "dtype" in compare(np.zeros(2, np.float32), np.zeros(2), check_dtype=True)
    assert format_value(np.zeros((10, 10))) == "<array shape=(10, 10) dtype=float64>"
    assert format_value((1,)) == "(1,)"


# -- the reference solutions agree with the real libraries -----------------------------------------


@pytest.mark.slow
def test_lstm_step_matches_keras_lstm():
    keras = pytest.importorskip("keras")
    rng = np.random.default_rng(0)
    B, D, H = 2, 3, 4
    x = rng.normal(size=(B, 1, D)).astype("float32")
    layer = keras.layers.LSTM(H, return_state=True)
    layer.build((B, 1, D))
    W = rng.normal(size=(D, 4 * H)).astype("float32") * 0.5
    U = rng.normal(size=(H, 4 * H)).astype("float32") * 0.5
    b = rng.normal(size=(4 * H,)).astype("float32") * 0.5
    layer.set_weights([W, U, b])
    h0 = rng.normal(size=(B, H)).astype("float32")
    c0 = rng.normal(size=(B, H)).astype("float32")
    _, h_keras, c_keras = layer(x, initial_state=[h0, c0])
    h, c = ch2.lstm_step(x[:, 0], h0, c0, W, U, b)
    np.testing.assert_allclose(h, np.asarray(h_keras), atol=1e-5)
    np.testing.assert_allclose(c, np.asarray(c_keras), atol=1e-5)


def test_vgg16_preprocess_matches_keras():
    keras = pytest.importorskip("keras")
    rgb = np.random.default_rng(0).integers(0, 256, size=(2, 5, 5, 3), dtype=np.uint8)
    expected = keras.applications.vgg16.preprocess_input(rgb.astype("float32"))
    np.testing.assert_allclose(ch4.vgg16_preprocess(rgb), np.asarray(expected), atol=1e-4)


def test_clean_caption_matches_the_library():
    from course_lib.text import clean_caption

    for case in ch5.ex1.cases:
        assert ch5.clean_caption(*case.args) == clean_caption(*case.args)


def test_bleu_pieces_match_nltk():
    bleu = pytest.importorskip("nltk.translate.bleu_score")
    for case in ch7.ex1.cases:
        hyp, refs, n = case.args
        if len(hyp) >= n:
            assert ch7.clipped_precision(hyp, refs, n) == pytest.approx(
                float(bleu.modified_precision(refs, hyp, n))
            )
    for c, r in [(12, 10), (8, 10), (10, 10), (0, 5)]:
        assert ch7.brevity_penalty(c, r) == pytest.approx(bleu.brevity_penalty(r, c))
    for hyp_len, ref_lens in [(10, [9, 11]), (10, [11, 9]), (0, [3, 1, 2])]:
        refs = [["w"] * n for n in ref_lens]
        assert ch7.closest_ref_length(hyp_len, ref_lens) == bleu.closest_ref_length(refs, hyp_len)


def test_value_answers_are_the_stated_arithmetic():
    assert ch1.ex4.expected == 16 * (3 * 3 * 3 + 1)
    assert ch2.ex2.expected == 4 * (256 * (256 + 256) + 256)
    assert ch4.ex4.expected == pytest.approx(8091 * 4096 * 4 / 2**20, abs=0.005)
    assert ch5.ex3.expected == pytest.approx(306_404 * 7_579 * 4 / 2**30, abs=0.005)
    assert ch6.ex4.expected == math.ceil(6000 * 5 / 64)
    assert ch7.ex6.expected == pytest.approx(
        ch7.clipped_precision(
            "startseq a dog runs endseq".split(), ["startseq the cat sleeps endseq".split()], 1
        )
    )


def test_merge_model_output_shape_matches_the_library():
    pytest.importorskip("keras")
    from course_lib.models import build_merge_model

    model = build_merge_model(1000, 16, embed_dim=8, units=8)
    out = model({"image": np.zeros((8, 16), "float32"), "caption": np.ones((8, 20), "int32")})
    assert tuple(out.shape) == ch3.ex1.expected


# -- cells for chapter authors ------------------------------------------------------------


@pytest.mark.parametrize("ex", ALL, ids=IDS)
def test_cell_helpers_use_the_label_and_markers(ex):
    assert f":label: {ex.label}" in ex.exercise_cell()
    assert ex.solution_cell().startswith(f"````{{solution}} {ex.label}\n:class: dropdown")
    code = ex.code_cell()
    if isinstance(ex, ThoughtExercise):
        assert code == ""
    else:
        assert "### BEGIN SOLUTION" in code and f"{ex.name}.check(" in code


@pytest.mark.parametrize("ex", [e for e in ALL if not isinstance(e, ThoughtExercise)], ids=str)
def test_code_cell_runs_and_passes(ex, capsys):
    namespace = {
        f"ch{ex.chapter}": __import__(f"course_lib.exercises.ch{ex.chapter}", fromlist=["x"]),
        "np": np,
    }
    exec(ex.code_cell(), namespace)
    assert capsys.readouterr().out.startswith("✓")
