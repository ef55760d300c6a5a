"""The student edition: solutions become stubs, solution cells go, and the notebooks still run."""

from __future__ import annotations

import json

import nbformat
import pytest

from course_lib.exercises.student import (
    StudentEditionError,
    main,
    stub_source,
    write_student_edition,
)

FUNCTION_CELL = """def conv_output_size(n, k, stride=1, padding=0):
    ### BEGIN SOLUTION
    return (n + 2 * padding - k) // stride + 1
    ### END SOLUTION


ch1.ex1.check(conv_output_size)"""

VALUE_CELL = """### BEGIN SOLUTION
answer = (8, 20,
          1000)
print("secret")
### END SOLUTION
ch3.ex1.check(answer)"""

SOLUTION_MD = """````{solution} ch1-ex1
:class: dropdown

```python
def conv_output_size(n, k, stride=1, padding=0):
    return (n + 2 * padding - k) // stride + 1
```
````"""


def _fixture_notebook(path):
    v4 = nbformat.v4
    nb = v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    function_cell = v4.new_code_cell(FUNCTION_CELL, metadata={"tags": ["hide-input"]})
    function_cell.outputs = [v4.new_output("stream", name="stdout", text="✓ ch1.ex1 …\n")]
    function_cell.execution_count = 3
    nb.cells = [
        v4.new_markdown_cell("# Chapter 1"),
        v4.new_code_cell("from course_lib.exercises import ch1, ch3"),
        v4.new_markdown_cell("```{exercise} Output size\n:label: ch1-ex1\n\nWrite it.\n```"),
        function_cell,
        v4.new_markdown_cell(SOLUTION_MD),
        v4.new_markdown_cell("```{exercise} Shape\n:label: ch3-ex1\n\nPredict it.\n```"),
        v4.new_code_cell(VALUE_CELL),
        v4.new_markdown_cell(":::{solution} ch3-ex1\n:class: dropdown\n(8, 20, 1000)\n:::"),
        v4.new_code_cell("ch1.ex5.solution()", metadata={"tags": ["solution"]}),
        v4.new_markdown_cell("```{solution-start} ch1-ex5\n```"),
        v4.new_code_cell("print('gated secret')"),
        v4.new_markdown_cell("```{solution-end}\n```"),
        v4.new_code_cell("ch1.ex5.check()"),
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return nb


@pytest.fixture
def edition(tmp_path):
    src, out = tmp_path / "book", tmp_path / "student"
    _fixture_notebook(src / "part" / "01_cnn.ipynb")
    (src / "references.bib").write_text("@book{x, title={X}}\n")
    (src / "figures").mkdir()
    (src / "figures" / "a.png").write_bytes(b"\x89PNG")
    (src / ".ipynb_checkpoints").mkdir()
    (src / ".ipynb_checkpoints" / "01_cnn-checkpoint.ipynb").write_text("{}")
    assert main([str(src), str(out)]) == 0
    return out


def test_student_edition_keeps_paths_and_copies_other_files(edition):
    assert (edition / "part" / "01_cnn.ipynb").is_file()
    assert (edition / "references.bib").read_text().startswith("@book")
    assert (edition / "figures" / "a.png").is_file()
    assert not (edition / ".ipynb_checkpoints").exists()


def test_student_edition_contains_no_solution_code_or_outputs(edition):
    nb = nbformat.read(edition / "part" / "01_cnn.ipynb", as_version=4)
    text = json.dumps(nb)
    for secret in (
        "2 * padding - k",
        "1000",
        "secret",
        "{solution",
        "BEGIN SOLUTION",
        "ex5.solution",
    ):
        assert secret not in text, secret
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.outputs == [] and c.execution_count is None for c in code)
    assert "    # YOUR CODE HERE\n    raise NotImplementedError()" in code[1].source
    assert code[2].source == "answer = ...  # YOUR CODE HERE\nch3.ex1.check(answer)"
    markdown = [c.source for c in nb.cells if c.cell_type == "markdown"]
    assert sum("{exercise}" in m for m in markdown) == 2


@pytest.mark.slow
def test_student_edition_runs_and_reports_not_answered_yet(edition):
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.read(edition / "part" / "01_cnn.ipynb", as_version=4)
    nbclient.NotebookClient(nb, timeout=120, kernel_name="python3").execute()
    outputs = ["".join(o.get("text", "") for o in c.outputs) for c in nb.cells if "outputs" in c]
    assert sum("not answered yet" in o for o in outputs) == 2
    assert any("no automatic check" in o for o in outputs)
    assert not any(o.get("output_type") == "error" for c in nb.cells for o in c.get("outputs", []))


def test_stub_top_level_region_keeps_one_placeholder_per_assigned_name():
    source = (
        "x = 1\n### BEGIN SOLUTION\na, b = 1, 2\nc: int = 3\nc += 1\nprint(a)\n### END SOLUTION\n"
    )
    assert stub_source(source) == (
        "x = 1\na = ...  # YOUR CODE HERE\nb = ...  # YOUR CODE HERE\nc = ...  # YOUR CODE HERE\n"
    )
    assert stub_source("### BEGIN SOLUTION\nprint(1)\n### END SOLUTION") == "# YOUR CODE HERE"


def test_stub_nested_region_keeps_its_indentation():
    source = (
        "class A:\n    def f(self):\n        ### BEGIN SOLUTION\n        return 1\n"
        "        ### END SOLUTION\n"
    )
    stub = "        # YOUR CODE HERE\n        raise NotImplementedError()\n"
    assert stub_source(source) == "class A:\n    def f(self):\n" + stub


@pytest.mark.parametrize(
    "source",
    [
        "### BEGIN SOLUTION\nx = 1\n",
        "x = 1\n### END SOLUTION\n",
        "### BEGIN SOLUTION\n### BEGIN SOLUTION\n",
    ],
)
def test_unbalanced_markers_are_an_error_naming_the_notebook(tmp_path, source, capsys):
    src = tmp_path / "book"
    src.mkdir()
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source)]
    nbformat.write(nb, src / "broken.ipynb")
    assert main([str(src), str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert "broken.ipynb cell 0" in err and "SOLUTION" in err
    with pytest.raises(StudentEditionError):
        write_student_edition(src, tmp_path / "out2")


def test_usage_error_without_two_arguments(capsys):
    assert main(["only-one"]) == 2
    assert "usage" in capsys.readouterr().err
