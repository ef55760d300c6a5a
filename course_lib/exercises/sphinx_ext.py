"""The book's Sphinx extension (``_config.yml``: ``sphinx.extra_extensions``).

* **Exercise titles carry the checker's number.** An exercise is written
  ``{exercise} 3.2: Adding the image to every time step`` with ``:nonumber:`` (see
  :func:`course_lib.exercises.cells.exercise_cell`). sphinx-exercise would title it
  "Exercise (3.2: Adding …)" and its solution "Solution to Exercise (3.2: Adding …)"; a
  post-transform drops the parentheses, so the book reads "Exercise 3.2: Adding …", the number
  of ``ch3.ex2``. Titles that do not start with a number are left alone.
* **Inline scripts are written once.** Sphinx 7.4 writes an inline script (``add_js_file(None,
  body=…)``) twice when an extension registers it after the builder starts, as sphinx-thebe
  does; the second ``const THEBE_JS_URL`` is a JavaScript error on every page. Fixed in Sphinx
  by sphinx-doc/sphinx#13402 (``None`` and ``''`` filenames compared unequal); until the book
  can use that Sphinx, each page's script list drops the duplicates.
* **A fork is told to set its repository.** While ``repository.url`` in ``_config.yml`` is
  still the course's own placeholder, the build warns and names the line: the launch buttons
  and every notebook's Colab setup cell would install from a repository that is not the fork's.
  ``COURSE_ALLOW_PLACEHOLDER_URL=1`` (set by ``nox -s book``, so the quickstart builds) prints
  the notice without making it a warning that ``-W`` turns into an error.
* **The reference list is a list to assistive technology.** docutils 0.21 writes a citation
  list as ``<div role="list">`` of ``<div role="doc-biblioentry">``: a list without list items
  (axe-core: aria-required-children, critical), in a role that DPUB-ARIA 1.1 deprecates. Each
  page's body gets ``role="listitem"`` instead.

Needs Sphinx and sphinx-exercise, which only the book build has.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.transforms.post_transforms import SphinxPostTransform
from sphinx.util import logging
from sphinx.util.console import colorize
from sphinx_exercise.nodes import exercise_node, solution_node

logger = logging.getLogger(__name__)

#: The repository URL the course ships with; a fork replaces it with its own.
PLACEHOLDER_URL = (
    "https://github.com/captioning-course/image-captioning-course"
)
#: Set to 1 to print the placeholder notice without failing a ``-W`` build.
ALLOW_PLACEHOLDER = "COURSE_ALLOW_PLACEHOLDER_URL"

#: A title that starts with its own number, "3.2: …".
NUMBERED = re.compile(r"^\d+\.\d+: ")


def unwrap_number(parts: list[nodes.Node]) -> list[nodes.Node] | None:
    """``[word, " (", "3.2: …", …, ")"]`` as ``[word + " ", "3.2: …", …]``; None if not so."""
    if len(parts) < 4 or not all(
        isinstance(p, nodes.Text) for p in (parts[0], parts[1])
    ):
        return None
    if parts[1].astext() != " (" or parts[-1].astext() != ")":
        return None
    if not NUMBERED.match("".join(p.astext() for p in parts[2:-1])):
        return None
    return [nodes.Text(parts[0].astext() + " "), *parts[2:-1]]


class NumberedExerciseTitles(SphinxPostTransform):
    """Rewrite "Exercise (3.2: T)" as "Exercise 3.2: T", in exercises and their solutions."""

    # after sphinx-exercise resolves the titles of exercises (20) and solutions (21)
    default_priority = 25

    def run(self, **kwargs: Any) -> None:
        """Rewrite the titles of the unnumbered exercises and solutions of this document."""
        for node in self.document.findall(exercise_node):
            title = node.children[0]
            if isinstance(title, nodes.title) and (
                parts := unwrap_number(title.children)
            ):
                title.children = []
                title.extend(parts)
        for node in self.document.findall(solution_node):
            title = node.children[0]
            links = [
                c for c in title.children if isinstance(c, nodes.reference)
            ]
            if links and (parts := unwrap_number(links[0].children)):
                # "Solution to" + link(" Exercise 3.2: T"): the space goes outside the link
                links[0].children = []
                links[0].extend(
                    [nodes.Text(parts[0].astext().lstrip()), *parts[1:]]
                )
                before = title.index(links[0]) - 1
                if before >= 0 and isinstance(title[before], nodes.Text):
                    title[before] = nodes.Text(
                        title[before].astext().rstrip() + " "
                    )


def drop_duplicate_scripts(
    app: Sphinx, pagename: str, templatename: str, context: dict, doctree: Any
) -> None:
    """Remove repeated entries from the page's script list (``html-page-context``)."""
    scripts = context.get("script_files")
    if not isinstance(scripts, list):
        return
    seen, unique = set(), []
    for script in scripts:
        attributes = tuple(sorted(getattr(script, "attributes", {}).items()))
        key = (getattr(script, "filename", script) or "", attributes)
        if key not in seen:
            seen.add(key)
            unique.append(script)
    scripts[:] = unique


#: A citation inside docutils' citation list, by its deprecated role.
BIBLIOENTRY = re.compile(
    r'(<div class="citation" id="[^"]*") role="doc-biblioentry"'
)


def citations_as_list_items(
    app: Sphinx, pagename: str, templatename: str, context: dict, doctree: Any
) -> None:
    """Give the citations of the page's body the role ``listitem`` (``html-page-context``)."""
    if isinstance(context.get("body"), str):
        context["body"] = BIBLIOENTRY.sub(
            r'\1 role="listitem"', context["body"]
        )


def placeholder_notice(config_file: Path) -> str | None:
    """What to tell the builder when ``config_file``'s ``repository.url`` is the placeholder
    (naming the file and line to change); None once it is set to another URL."""
    in_repository = False
    for number, line in enumerate(
        config_file.read_text(encoding="utf-8").splitlines(), 1
    ):
        if line and not line[0].isspace():
            in_repository = line.startswith("repository:")
        elif in_repository and line.strip().startswith("url:"):
            url = (
                line.split(":", 1)[1]
                .split("#", 1)[0]
                .strip()
                .strip("\"'")
                .rstrip("/")
            )
            if url != PLACEHOLDER_URL:
                return None
            return (
                f"{config_file}:{number}: repository.url is still the course's placeholder "
                f"({url}): the launch buttons and every notebook's Colab setup cell point at "
                "it. Set it to your fork's URL, then run `python scripts/setup_cell.py` and "
                "`python scripts/colab_notebooks.py`."
            )
    return None


def check_repository_url(app: Sphinx) -> None:
    """Warn (``builder-inited``) while ``_config.yml`` still has the placeholder URL."""
    config_file = Path(app.srcdir) / "_config.yml"
    notice = placeholder_notice(config_file) if config_file.exists() else None
    if notice is None:
        return
    if os.environ.get(ALLOW_PLACEHOLDER) == "1":
        logger.info(
            colorize(
                "red", f"WARNING (allowed by {ALLOW_PLACEHOLDER}=1): {notice}"
            )
        )
    else:
        logger.warning(notice, type="course", subtype="placeholder_url")


def setup(app: Sphinx) -> dict[str, Any]:
    """Register the title post-transform, the page clean-ups and the repository check."""
    app.setup_extension("sphinx_exercise")
    app.add_post_transform(NumberedExerciseTitles)
    app.connect("html-page-context", drop_duplicate_scripts)
    app.connect("html-page-context", citations_as_list_items)
    app.connect("builder-inited", check_repository_url)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
