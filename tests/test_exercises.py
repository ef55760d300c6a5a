"""The exercise checkers: reference solutions pass, typical wrong answers get specific messages."""

from __future__ import annotations

import importlib
import math
import re
from pathlib import Path

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
    ch8,
    glue_solutions,
    table,
)
from course_lib.exercises.cells import (
    answer_cell,
    check_cell,
    code_cell,
    exercise_cell,
    glue_cell,
    solution_cell,
)
from course_lib.exercises.core import compare, format_value
from course_lib.exercises.view import AnswerNotAccepted, ExerciseView, bind, grading

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
    assert sorted(chapters) == [1, 2, 3, 4, 5, 6, 7, 8]
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
    result = ExerciseView(ex).check(_reference_answer(ex))
    out = capsys.readouterr().out
    if isinstance(ex, ThoughtExercise):
        assert result.ok is None
        assert f"{ex.name}.solution()" in out
    else:
        assert result.ok is True, result.message
        assert out.startswith("✓")


def _mentions(text: str, value) -> bool:
    """Whether ``text`` spells out ``value``: 448, 1,048,832, (8, 20, 1000) as a whole number."""
    spelled = {format_value(value), str(value)}
    if isinstance(value, int):
        spelled.add(f"{value:,}")
    return any(re.search(rf"(?<![\d.,]){re.escape(s)}(?![\d])", text) for s in spelled)


VALUES = [ex for ex in ALL if isinstance(ex, ValueExercise)]


@pytest.mark.parametrize("ex", VALUES, ids=lambda ex: ex.name)
def test_a_right_value_is_confirmed_without_being_repeated(ex, capsys):
    result = ExerciseView(ex).check(ex.expected)
    assert result.ok is True and "correct" in result.message
    assert not _mentions(result.message, ex.expected), result.message


@pytest.mark.parametrize("ex", VALUES, ids=lambda ex: ex.name)
def test_wrong_values_hints_and_mistakes_never_reveal_the_answer(ex, capsys):
    wrong = [m.value for m in ex.mistakes]
    wrong += ["a string", (1, 2), [0.5], -1, 0, 10**9]
    if isinstance(ex.expected, tuple):
        wrong += [tuple(v + 1 for v in ex.expected), ex.expected[:-1], list(ex.expected[::-1])]
    else:
        wrong += [ex.expected * 2, ex.expected + 1]
    texts = [
        ExerciseView(ex).check(answer).message.replace(f"you answered {format_value(answer)}", "")
        for answer in wrong
    ]
    texts += ex.hints + [m.message for m in ex.mistakes]
    for text in texts:
        assert not _mentions(text, ex.expected), text


def test_a_wrong_kind_of_value_is_named_without_the_answer(capsys):
    result = ch3.ex1.check((8, 20))
    assert "expected a tuple of 3 numbers, got a tuple of 2 numbers" in result.message
    assert ch3.ex1.check([8, 20, 1000]).ok is True  # a list is as good as a tuple
    assert "expected a number, got a string" in ch1.ex4.check("448").message


@pytest.mark.parametrize("ex", ALL, ids=IDS)
def test_hint_and_solution_print_something(ex, capsys):
    ExerciseView(ex).hint()
    assert "Hint 1/" in capsys.readouterr().out
    ExerciseView(ex).hint(len(ex.hints) + 1)
    assert f"has {len(ex.hints)} hint" in capsys.readouterr().out
    ExerciseView(ex).solution()
    out = capsys.readouterr().out
    assert f"Solution to {ex.heading}" in out and len(out) > 60


def test_last_hint_says_there_are_no_more(capsys):
    ch1.ex1.hint(len(ch1.ex1.hints))
    assert "no more hints" in capsys.readouterr().out


# -- typical wrong answers are rejected with a message naming the failing case ---------------------


def _conv_flipped(image, kernels):
    return ch1.conv2d_channels(image, kernels[::-1, ::-1])


def _pool_from_zero(x, size=2, stride=None):
    stride = size if stride is None else stride
    out = ch1.max_pool2d(x, size, stride)
    return np.maximum(out, 0)


def _gru_z_swapped(x, h, W, U, b):
    """z takes the candidate instead of keeping the old state."""
    z = 1 / (1 + np.exp(-(x @ W + b + h @ U)[:, : h.shape[-1]]))
    g_keep = ch2.gru_step(x, h, W, U, b)  # = z h + (1 - z) g
    g = (g_keep - z * h) / (1 - z)
    return (1 - z) * h + z * g


def _naive_softmax(z):
    return np.exp(z) / np.exp(z).sum(axis=-1, keepdims=True)


def _no_bgr(rgb):
    return rgb.astype(np.float32) - np.array([103.939, 116.779, 123.68], dtype=np.float32)


def _tutorial_clean(text):
    return [w for w in ch5.my_clean_caption(text) if len(w) > 1]


def _prefix_off_by_one(ids):
    return [(list(ids[:i]), ids[i]) for i in range(len(ids))]


def _rebuild_batch_axis(inputs, targets):
    return np.concatenate([inputs[:1], targets])


def _rebuild_both(inputs, targets):
    return np.concatenate([inputs, targets], axis=1)


def _plain_mean(losses, targets, pad_id=0):
    return float(np.mean(losses))


def _unclipped(hyps, refs, n):
    matched = total = 0
    for hyp, hyp_refs in zip(hyps, refs, strict=True):
        grams = [tuple(hyp[i : i + n]) for i in range(len(hyp) - n + 1)]
        ref_grams = {tuple(r[i : i + n]) for r in hyp_refs for i in range(len(r) - n + 1)}
        matched += sum(g in ref_grams for g in grams)
        total += len(grams)
    return matched / total if total else 0.0


def _bp_per_caption(hyp_lens, ref_lens):
    pairs = zip(hyp_lens, ref_lens, strict=True)
    return float(np.mean([ch7.corpus_brevity_penalty([c], [r]) for c, r in pairs]))


def _straight_down(parents, words):
    return [[int(row[j]) for row in words] for j in range(len(words[-1]))]


def _worst_caption(log_probs, lengths, alpha):
    scores = [lp / n**alpha for lp, n in zip(log_probs, lengths, strict=True)]
    return min(range(len(scores)), key=lambda i: scores[i])


def _softmax_over_batch(keys, query, v, mask):
    e = np.exp(np.tanh(keys + query[:, None, :]) @ v) * mask
    return e / e.sum(axis=0, keepdims=True)


def _padding_kept(keys, query, v, mask):
    e = np.exp(np.tanh(keys + query[:, None, :]) @ v)
    return e / e.sum(axis=-1, keepdims=True)


def _place_column_major(alpha, side):
    return ch8.attended_place(alpha, side)[:, ::-1]


# name -> (wrong answer, substrings the message must contain)
WRONG = {
    "ch1.ex1": (
        lambda n, k, stride=1, padding=0, dilation=1: (n + 2 * padding - k) // stride + 1,
        [
            "conv_output_size(n=9, k=3, stride=1, padding=0, dilation=2)",
            "[dilation 2]: expected 5, got 7",
            "pixels the dilated kernel covers",
        ],
    ),
    "ch1.ex2": (_conv_flipped, ["conv2d_channels(image=", "[3 channels, 4 filters]", "unflipped"]),
    "ch1.ex3": (_pool_from_zero, ["max_pool2d(x=", "[negative values]", "start the running"]),
    "ch1.ex4": (432, ["you answered 432", "bias"]),
    "ch2.ex1": (_gru_z_swapped, ["gru_step(x=", "h=", "which way z"]),
    "ch2.ex2": (131_328, ["you answered 131328", "four"]),
    "ch2.ex3": (_naive_softmax, ["softmax(logits=np.array([1000., 1000., 999.]", "large logits"]),
    "ch2.ex4": (1_280_000, ["you answered 1280000", "bias"]),
    "ch2.ex5": (0.95**40, ["you answered 0.1285", "39"]),
    "ch3.ex1": ((8, 1000), ["you answered (8, 1000)", "return_sequences"]),
    "ch3.ex2": (lambda image_vec, seq: image_vec + seq, ["merge_add(image_vec=", "raised"]),
    "ch3.ex4": (524_288, ["you answered 524288", "biases"]),
    "ch4.ex1": (_no_bgr, ["vgg16_preprocess(rgb=np.array([[[255, 0, 0]]]", "one red pixel"]),
    "ch4.ex2": (14 * 14 * 512, ["you answered 100352", "224 × 224"]),
    "ch4.ex4": (132.56, ["you answered 132.56", "MB"]),
    "ch5.ex1": (_tutorial_clean, ["my_clean_caption(text='A dog runs on the grass .')", "'a'"]),
    "ch5.ex2": (_prefix_off_by_one, ["my_per_prefix_samples(ids=[2, 7, 3])", "expected 2 items"]),
    "ch5.ex3": (62.64, ["you answered 62.64", "GiB"]),
    "ch5.ex4": (12, ["you answered 12", "lower-cases"]),
    "ch5.ex5": ((66, 11), ["you answered (66, 11)", "padded"]),
    "ch6.ex1": (_rebuild_batch_axis, ["rebuild_ids(inputs=", "targets=", "axis 1"]),
    "ch6.ex2": (_plain_mean, ["masked_mean_loss(losses=", "padding must not count"]),
    "ch6.ex4": (468, ["you answered 468", "round up"]),
    "ch7.ex1": (_unclipped, ["corpus_precision(hyps=[['the', 'the',", "[clipping"]),
    "ch7.ex2": (_bp_per_caption, ["corpus_brevity_penalty(hyp_lens=[5, 12]", "one penalty"]),
    "ch7.ex3": (16, ["you answered 16", "shorter reference"]),
    "ch7.ex4": (_straight_down, ["read_beams(parents=", "words=", "Follow the parents"]),
    "ch7.ex6": (0.0, ["you answered 0", "startseq"]),
    "ch7.ex7": (_worst_caption, ["best_caption(log_probs=[-1.75, -1.95]", "closest to 0"]),
    "ch8.ex1": (_softmax_over_batch, ["attention_weights(keys=", "query=", "not the batch"]),
    "ch8.ex2": (_place_column_major, ["attended_place(alpha=", "row by row"]),
    "ch8.ex3": (0.25, ["you answered 0.25", "count cells"]),
    "ch8.ex4": (12.1, ["you answered 12.1", "2 bytes"]),
}


def test_every_checkable_exercise_has_a_wrong_answer_test():
    checkable = {ex.name for ex in ALL if not isinstance(ex, ThoughtExercise)}
    assert checkable == set(WRONG)


@pytest.mark.parametrize("name", sorted(WRONG))
def test_typical_wrong_answer_is_rejected_with_the_failing_case(name, capsys):
    ex = next(e for e in ALL if e.name == name)
    answer, expected_parts = WRONG[name]
    result = ExerciseView(ex).check(answer)
    out = capsys.readouterr().out
    assert result.ok is False
    assert out.startswith("✗")
    for part in expected_parts:
        assert part in result.message, (part, result.message)


def test_rebuild_ids_keeping_both_copies_is_told_why():
    result = ch6.ex1.evaluate(_rebuild_both)
    assert result.ok is False and "belongs in the result once" in result.message


def test_rebuild_ids_accepts_either_way_round():
    def from_the_end(inputs, targets):
        return np.concatenate([inputs, targets[:, -1:]], axis=1)

    assert ch6.ex1.evaluate(from_the_end).ok is True


def test_merge_add_plain_broadcasting_is_caught_when_batch_equals_time():
    ex = ch3.ex2

    # Only the B == T case broadcasts; the others raise. Check the first case that runs.
    def plain(image_vec, seq):
        if image_vec.shape[0] != seq.shape[1]:
            return ch3.merge_add(image_vec, seq)
        return image_vec + seq

    result = ExerciseView(ex).check(plain)
    assert result.ok is False
    assert "B == T" in result.message and "broadcasts" in result.message


# -- robustness: exceptions, not answered, wrong types ---------------------------------------------


def test_exception_in_student_code_is_reported_with_the_input(capsys):
    def bp(hyp_lens, ref_lens):
        c, r = sum(hyp_lens), sum(ref_lens)
        return 1.0 if c > r else math.exp(1 - r / c)

    result = ch7.ex2.check(bp)
    assert result.ok is False
    message = "ref_lens=[3, 4]) [only empty hypotheses] raised ZeroDivisionError"
    assert message in result.message


@pytest.mark.parametrize("placeholder", [..., None])
def test_placeholders_are_not_answered_yet(placeholder, capsys):
    for ex in (ch1.ex1, ch1.ex4):
        result = ExerciseView(ex).check(placeholder)
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


def test_passing_the_librarys_own_function_is_refused_by_name(capsys):
    from course_lib.text import clean_caption

    result = ch5.ex1.check(clean_caption)
    assert result.ok is False
    assert "course_lib.text.clean_caption" in result.message
    assert "my_clean_caption" in result.message


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
    result = ch1.ex5.check()
    assert result.ok is None
    assert "no automatic check" in result.message and "ch1.ex5.solution()" in result.message


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
def test_gru_step_matches_keras_gru():
    keras = pytest.importorskip("keras")
    rng = np.random.default_rng(0)
    B, D, H = 2, 3, 4
    x = rng.normal(size=(B, 1, D)).astype("float32")
    layer = keras.layers.GRU(H, return_state=True)  # reset_after=True
    layer.build((B, 1, D))
    W = rng.normal(size=(D, 3 * H)).astype("float32") * 0.5
    U = rng.normal(size=(H, 3 * H)).astype("float32") * 0.5
    b = rng.normal(size=(3 * H,)).astype("float32") * 0.5
    layer.set_weights([W, U, np.stack([b, np.zeros_like(b)])])
    h0 = rng.normal(size=(B, H)).astype("float32")
    _, h_keras = layer(x, initial_state=[h0])
    h = ch2.gru_step(x[:, 0], h0, W, U, b)
    np.testing.assert_allclose(h, keras.ops.convert_to_numpy(h_keras), atol=1e-5)


def test_conv2d_channels_matches_keras_conv2d():
    keras = pytest.importorskip("keras")
    for case in ch1.ex2.cases:
        image, kernels = case.args
        layer = keras.layers.Conv2D(kernels.shape[-1], kernels.shape[:2], use_bias=False)
        layer.build((1, *image.shape))
        layer.set_weights([kernels.astype("float32")])
        expected = keras.ops.convert_to_numpy(layer(image[None].astype("float32")))[0]
        np.testing.assert_allclose(ch1.conv2d_channels(image, kernels), expected, atol=1e-4)


def test_conv_output_size_matches_keras_dilated_conv():
    keras = pytest.importorskip("keras")
    # Keras has no explicit padding, and no stride together with a dilation
    for n, k, dilation in [(9, 3, 2), (5, 3, 2), (28, 5, 3), (8, 1, 3)]:
        layer = keras.layers.Conv2D(1, k, dilation_rate=dilation, padding="valid")
        keras_n = layer.compute_output_shape((1, n, n, 1))[1]
        assert ch1.conv_output_size(n, k, 1, 0, dilation) == keras_n


def test_vgg16_preprocess_matches_keras():
    keras = pytest.importorskip("keras")
    rgb = np.random.default_rng(0).integers(0, 256, size=(2, 5, 5, 3), dtype=np.uint8)
    expected = keras.applications.vgg16.preprocess_input(rgb.astype("float32"))
    np.testing.assert_allclose(ch4.vgg16_preprocess(rgb), np.asarray(expected), atol=1e-4)


def test_clean_caption_matches_the_library():
    from course_lib.text import clean_caption

    for case in ch5.ex1.cases:
        assert ch5.my_clean_caption(*case.args) == clean_caption(*case.args)


def test_bleu_pieces_match_nltk():
    bleu = pytest.importorskip("nltk.translate.bleu_score")
    for case in ch7.ex1.cases:
        hyps, refs, n = case.args
        if all(len(hyp) >= n for hyp in hyps):
            pieces = [bleu.modified_precision(r, h, n) for h, r in zip(hyps, refs, strict=True)]
            pooled = sum(p.numerator for p in pieces) / sum(p.denominator for p in pieces)
            assert ch7.corpus_precision(hyps, refs, n) == pytest.approx(pooled)
    for case in ch7.ex2.cases:
        hyp_lens, ref_lens = case.args
        expected = bleu.brevity_penalty(sum(ref_lens), sum(hyp_lens))
        assert ch7.corpus_brevity_penalty(hyp_lens, ref_lens) == pytest.approx(expected)
    # ch7.ex3: 9 words, references of 7, 11, 12; 4 words, references of 3, 5, 6
    closest = [
        bleu.closest_ref_length([["w"] * r for r in (7, 11, 12)], 9),
        bleu.closest_ref_length([["w"] * r for r in (3, 5, 6)], 4),
    ]
    assert ch7.ex3.expected == sum(closest)


def test_corpus_precision_is_not_the_mean_of_the_captions():
    def mean_of_captions(hyps, refs, n):
        pairs = zip(hyps, refs, strict=True)
        return float(np.mean([ch7.corpus_precision([h], [r], n) for h, r in pairs]))

    result = ch7.ex1.evaluate(mean_of_captions)
    assert result.ok is False and "divide once" in result.message


def test_read_beams_tells_to_reverse_and_survives_an_array():
    def backwards(parents, words):
        return [c[::-1] for c in ch7.read_beams(parents, words)]

    assert "reversed" in ch7.ex4.evaluate(backwards).message
    result = ch7.ex4.evaluate(lambda parents, words: np.asarray(words).T)
    assert result.ok is False


def test_value_answers_are_the_stated_arithmetic():
    assert ch1.ex4.expected == 16 * (3 * 3 * 3 + 1)
    assert ch2.ex2.expected == 4 * (256 * (256 + 256) + 256)
    assert ch2.ex5.expected == 0.95**39  # 39 updates from word 1 to word 40
    assert ch3.ex4.expected == 2048 * 256 + 256
    assert ch4.ex2.expected == (320 // 2**4) ** 2 * 512  # four poolings
    assert ch4.ex4.expected == pytest.approx(8091 * 4096 * 4 / 2**20, abs=0.005)
    assert ch5.ex3.expected == pytest.approx(1_740_000 * 9_000 * 4 / 2**30, abs=0.005)
    assert ch5.ex5.expected == ((12 - 1) * (40 - 1), 40 - 1)
    assert ch6.ex4.expected == math.ceil(6000 * 5 / 64)
    assert ch8.ex3.expected == 4 / 64  # a 2 × 2-cell box of an 8 × 8 grid
    assert ch8.ex4.expected == pytest.approx(8091 * 28 * 28 * 512 * 2 / 2**30)
    assert ch7.ex6.expected == pytest.approx(
        ch7.corpus_precision(
            ["startseq a dog runs endseq".split()], [["startseq the cat sleeps endseq".split()]], 1
        )
    )


def test_merge_model_output_shape_matches_the_library():
    pytest.importorskip("keras")
    from course_lib.models import build_merge_model

    model = build_merge_model(1000, 16, embed_dim=8, units=8)
    rows = np.ones((8, 21), "int32")  # the exercise's rows of 21 ids
    out = model({"image": np.zeros((8, 16), "float32"), "caption": rows[:, :-1]})
    assert tuple(out.shape) == ch3.ex1.expected


def test_vgg16_grid_size_matches_keras():
    keras = pytest.importorskip("keras")
    vgg = keras.applications.VGG16(weights=None, include_top=False, input_shape=(320, 320, 3))
    grid = vgg.get_layer("block5_conv3").output.shape[1:]
    assert int(np.prod(grid)) == ch4.ex2.expected


# -- cells for chapter authors ------------------------------------------------------------


@pytest.mark.parametrize("ex", ALL, ids=IDS)
def test_exercise_cell_is_titled_with_the_checkers_number(ex):
    cell = exercise_cell(ex)
    first = cell.splitlines()[0]
    assert first == f"```{{exercise}} {ex.chapter}.{ex.number}: {ex.title}"
    assert f"\n:label: {ex.label}\n:nonumber:\n" in cell
    assert ex.prompt in cell and cell.endswith("\n```")
    assert ex.heading == f"Exercise {ex.chapter}.{ex.number}: {ex.title}"


@pytest.mark.parametrize("ex", ALL, ids=IDS)
def test_solution_cell_shows_the_glued_solution_in_a_dropdown(ex):
    assert solution_cell(ex) == (
        f"````{{solution}} {ex.label}\n:class: dropdown\n\n"
        f"```{{glue:md}} {ex.label}-solution\n:format: myst\n```\n````"
    )


@pytest.mark.parametrize("ex", ALL, ids=IDS)
def test_code_cell_is_an_unanswered_stub_that_reports_not_answered_yet(ex, capsys):
    code = code_cell(ex)
    if isinstance(ex, ThoughtExercise):
        assert code == ""
        return
    assert "# YOUR CODE HERE" in code and code.endswith(f"{ex.name}.check({_answer_name(ex)})")
    assert "BEGIN SOLUTION" not in code
    if isinstance(ex, FunctionExercise):
        body = ex.source.split("\n", 1)[1]
        assert body.strip() not in code  # no line of the reference body
        assert "raise NotImplementedError()" in code
    else:
        assert format_value(ex.expected) not in code
    assert all(len(line) <= 80 for line in code.splitlines())
    namespace = {f"ch{ex.chapter}": importlib.import_module(f"course_lib.exercises.ch{ex.chapter}")}
    exec(code, namespace)
    out = capsys.readouterr().out
    assert out.startswith(f"• {ex.name}") and "not answered yet" in out
    assert f"{ex.name}.hint()" in out


def _answer_name(ex) -> str:
    return ex.func_name if isinstance(ex, FunctionExercise) else ex.answer_name


@pytest.mark.parametrize("ex", [e for e in ALL if isinstance(e, FunctionExercise)], ids=str)
def test_the_stub_completed_with_the_reference_body_passes(ex, capsys):
    reference_body = ex.source.split(":\n", 1)[1]
    code = code_cell(ex).replace(
        "    # YOUR CODE HERE\n    raise NotImplementedError()\n", reference_body + "\n"
    )
    namespace = {f"ch{ex.chapter}": importlib.import_module(f"course_lib.exercises.ch{ex.chapter}")}
    exec(code, namespace)
    assert capsys.readouterr().out.startswith("✓")


def _outside_code(markdown: str) -> str:
    markdown = re.sub(r"^(`{3,}).*?^\1", "", markdown, flags=re.M | re.S)
    return re.sub(r"(`+).+?\1", "", markdown, flags=re.S)


@pytest.mark.parametrize("ex", ALL, ids=IDS)
def test_markdown_shown_has_no_raw_html_that_would_vanish(ex):
    # "<unk>" outside backticks is an unknown HTML tag: the browser swallows it.
    for text in (ex.prompt, ex.solution_markdown()):
        assert not re.search(r"<[A-Za-z/!]", _outside_code(text)), text


def test_solution_markdown_is_the_reference_and_the_reasoning():
    assert "```python\ndef merge_add(image_vec, seq):" in ch3.ex2.solution_markdown()
    assert ch3.ex1.solution_markdown().startswith("```python\nanswer = (8, 20, 1000)\n```")
    assert "return_sequences=True" in ch3.ex1.solution_markdown()
    assert ch3.ex3.solution_markdown() == ch3.ex3.model_answer


def test_solution_shows_the_numbered_title(capsys):
    ch3.ex2.solution()
    out = capsys.readouterr().out
    assert "Solution to Exercise 3.2: Adding the image to every time step" in out


def test_glue_solutions_glues_every_solution_of_a_chapter(monkeypatch):
    myst_nb = pytest.importorskip("myst_nb")
    glued = {}

    def fake_glue(name, variable, display=True):
        glued[name] = (variable.data, display)

    monkeypatch.setattr(myst_nb, "glue", fake_glue)
    glue_solutions(ch3)
    assert glued == {ex.glue_key: (ex.solution_markdown(), False) for ex in ch3.EXERCISES}
    assert glue_cell(3) == (
        "from course_lib.exercises import glue_solutions\n\nglue_solutions(ch3)"
    )


# -- the book's Sphinx extension ---------------------------------------------------------------

EXERCISE_PAGE = """# Page

```{exercise} 3.2: Adding the image
:label: ch3-ex2
:nonumber:

Write `merge_add`.
```

````{solution} ch3-ex2
:class: dropdown

Add a time axis.
````

```{exercise} Unnumbered
:label: other
:nonumber:

Left alone.
```
"""


@pytest.mark.slow
def test_sphinx_extension_numbers_titles_and_writes_each_inline_script_once(tmp_path):
    pytest.importorskip("sphinx_exercise")
    pytest.importorskip("sphinx_thebe")
    from sphinx.application import Sphinx

    src, out = tmp_path / "src", tmp_path / "out"
    src.mkdir()
    (src / "conf.py").write_text(
        "extensions = ['myst_parser', 'sphinx_thebe', 'course_lib.exercises.sphinx_ext']\n"
        "myst_enable_extensions = ['colon_fence']\n"
    )
    (src / "index.md").write_text(EXERCISE_PAGE)
    app = Sphinx(str(src), str(src), str(out), str(tmp_path / "doctrees"), "html", status=None)
    app.build()
    html = (out / "index.html").read_text()
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", html))
    assert "Exercise 3.2: Adding the image" in text
    assert "Solution to Exercise 3.2: Adding the image" in text
    assert "Exercise (3.2" not in text
    assert "Exercise (Unnumbered)" in text
    assert html.count("const THEBE_JS_URL") == 1


def _config_with_url(folder: Path, url: str) -> Path:
    config = folder / "_config.yml"
    config.write_text(
        "title: A fork\n"
        "repository:\n"
        "  path_to_book: colab\n"
        f"  url: {url}  # your fork\n"
        "  branch: main\n"
        "launch_buttons:\n"
        "  colab_url: https://colab.research.google.com\n",
        encoding="utf-8",
    )
    return config


def test_placeholder_notice_names_the_line_to_change(tmp_path):
    pytest.importorskip("sphinx_exercise")
    from course_lib.exercises.sphinx_ext import PLACEHOLDER_URL, placeholder_notice

    config = _config_with_url(tmp_path, PLACEHOLDER_URL + "/")
    notice = placeholder_notice(config)
    assert notice is not None and notice.startswith(f"{config}:4: repository.url")
    assert "scripts/setup_cell.py" in notice
    assert placeholder_notice(_config_with_url(tmp_path, "https://github.com/me/course")) is None


@pytest.mark.slow
@pytest.mark.parametrize("allowed", [False, True], ids=["default", "allowed"])
def test_building_with_the_placeholder_url_warns(tmp_path, monkeypatch, allowed):
    pytest.importorskip("sphinx_exercise")
    import io

    from sphinx.application import Sphinx

    from course_lib.exercises.sphinx_ext import ALLOW_PLACEHOLDER, PLACEHOLDER_URL

    monkeypatch.setenv(ALLOW_PLACEHOLDER, "1" if allowed else "0")
    outputs = {}
    for name, url in (("placeholder", PLACEHOLDER_URL), ("fork", "https://github.com/me/c")):
        src = tmp_path / name
        src.mkdir()
        (src / "conf.py").write_text(
            "extensions = ['myst_parser', 'course_lib.exercises.sphinx_ext']\n"
        )
        (src / "index.md").write_text("# A page\n")
        _config_with_url(src, url)
        status, warning = io.StringIO(), io.StringIO()
        app = Sphinx(
            str(src),
            str(src),
            str(src / "_build"),
            str(src / "_doctrees"),
            "html",
            status=status,
            warning=warning,
        )
        app.build()
        outputs[name] = status.getvalue(), warning.getvalue()
    status, warning = outputs["placeholder"]
    if allowed:  # printed, but not a warning that -W would turn into an error
        assert "repository.url is still" in status and "repository.url" not in warning
    else:
        assert "_config.yml:4: repository.url is still" in warning
    assert "repository.url" not in "".join(outputs["fork"])


# -- grading with nbgrader: the same checks, strict ------------------------------------------------


@pytest.mark.parametrize("ex", ALL, ids=IDS)
def test_code_cell_is_the_answer_cell_then_the_check_cell(ex):
    if isinstance(ex, ThoughtExercise):
        assert answer_cell(ex) == check_cell(ex) == ""
        return
    assert check_cell(ex) == f"{ex.name}.check({_answer_name(ex)})"
    assert code_cell(ex).startswith(answer_cell(ex))
    assert code_cell(ex).endswith(f"\n{check_cell(ex)}")
    assert check_cell(ex) not in answer_cell(ex)


@pytest.mark.parametrize("execution", ["autograde", "validate"])
@pytest.mark.parametrize("name", sorted(WRONG))
def test_under_nbgrader_only_a_right_answer_passes_the_check(name, execution, monkeypatch, capsys):
    ex = next(e for e in ALL if e.name == name)
    monkeypatch.setenv("NBGRADER_EXECUTION", execution)
    assert ExerciseView(ex).check(_reference_answer(ex)).ok is True
    with pytest.raises(AnswerNotAccepted, match=rf"^✗ {re.escape(name)} "):
        ExerciseView(ex).check(WRONG[name][0])
    with pytest.raises(AnswerNotAccepted, match="not answered yet"):
        ExerciseView(ex).check(...)
    assert capsys.readouterr().out.count(f" {name} (") == 3  # the feedback is still printed


def test_outside_nbgrader_a_wrong_answer_does_not_raise(monkeypatch, capsys):
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    assert not grading() and ch3.ex1.check((8, 1000)).ok is False
    monkeypatch.setenv("NBGRADER_EXECUTION", "")
    assert not grading() and ch3.ex1.check(None).ok is None


def test_attention_pieces_match_the_keras_layers():
    keras = pytest.importorskip("keras")
    from course_lib.attention import RegionPositions, SoftAttention

    rng = np.random.default_rng(0)
    regions = rng.normal(size=(2, 9, 5)).astype("float32")
    h = rng.normal(size=(2, 4)).astype("float32")
    layer = SoftAttention(6)
    layer.build(regions.shape, h.shape)
    keys = layer.keys(regions)
    alpha = np.asarray(layer(keys, h))
    query = np.asarray(layer.query_dense(h))
    v = np.asarray(layer.score_dense.kernel)[:, 0]
    everywhere = np.ones(alpha.shape, dtype=bool)  # no padding
    got = ch8.attention_weights(np.asarray(keys), query, v, everywhere)
    np.testing.assert_allclose(got, alpha, atol=1e-5)
    placed = keras.ops.convert_to_numpy(RegionPositions()(regions))
    place = np.sum(alpha[..., None] * placed[..., -2:], axis=1)  # (B, 2)
    np.testing.assert_allclose(ch8.attended_place(alpha, 3), place, atol=1e-5)


def test_padded_regions_left_in_the_softmax_are_named(capsys):
    result = ch8.ex1.check(_padding_kept)
    assert result.ok is False
    assert "padded region (mask False) must get weight 0" in result.message


def test_padding_changes_nothing_for_the_real_regions():
    keys, query, v, mask = ch8._attention_case((6, 3), 6, 4, 0)
    alpha = ch8.attention_weights(keys, query, v, mask)
    assert np.all(alpha[~mask] == 0)
    np.testing.assert_allclose(alpha.sum(axis=-1), 1.0)
    alone = ch8.attention_weights(keys[1:, :3], query[1:], v, np.ones((1, 3), dtype=bool))
    np.testing.assert_allclose(alpha[1, :3], alone[0])


def test_exercises_are_numbered_by_their_place_in_the_chapter_module():
    def module(*names: str) -> dict:
        made = {"__name__": "course_lib.exercises.ch9"}
        for name in names:
            made[name] = ThoughtExercise(f"about {name}", prompt="Why?", model_answer="Because.")
        return made

    chapter = module("ex1", "ex2")
    first, second = bind(chapter)
    assert (first.name, second.name, second.heading) == (
        "ch9.ex1",
        "ch9.ex2",
        "Exercise 9.2: about ex2",
    )
    assert isinstance(chapter["ex2"], ExerciseView) and chapter["ex2"].exercise is second
    with pytest.raises(ValueError, match="exercise 2 is named ex3, not ex2"):
        bind(module("ex1", "ex3"))


def test_checking_prints_nothing_only_the_view_shows_it(capsys):
    result = ch3.ex1.exercise.evaluate((8, 20, 1000))
    assert result.ok is True and capsys.readouterr().out == ""
    assert ch3.ex1.check((8, 20, 1000)).message == result.message
    assert result.message in capsys.readouterr().out.replace("\n  ", " ")
