"""The book stays true (issue 27), read without mdBook: every page is in the table of
contents, every relative link and anchor resolves, every `make` target the docs name exists,
and `make bench` writes its tables into the benchmarks page. Each check is also shown failing
on a made-up page. (Variables: src/config/docs.rs, in `cargo test`. The getting-started
commands: test_getting_started.py.)"""
import importlib.util
import sys

import pytest

import docs
from docs import BOOK, ROOT


def test_every_page_is_in_the_summary_and_every_summary_entry_is_a_page():
    listed = {(BOOK / p).resolve() for p in docs.summary_pages((BOOK / "SUMMARY.md").read_text())}
    present = {p.resolve() for p in BOOK.rglob("*.md")} - {(BOOK / "SUMMARY.md").resolve()}
    assert listed - present == set(), "SUMMARY.md lists pages that do not exist"
    assert present - listed == set(), "pages missing from SUMMARY.md (mdBook would not render them)"
    assert len(listed) >= 12


def test_the_readme_is_a_front_door():
    """Short (issue 27: under 250 lines), with the two commands, and pointing into the book."""
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) < 250, len(readme.splitlines())
    assert "make demo" in readme and "make test" in readme
    into_the_book = {t.split("#")[0] for t, _ in docs.links(readme) if t.startswith("docs/src/")}
    assert len(into_the_book) >= 10, into_the_book


def test_the_chapters_the_issue_asks_for_are_there():
    for page in ("getting-started", "configuration", "controls", "triggers", "organization", "deployment",
                 "rollout", "security-hub", "safety", "benchmarks", "troubleshooting"):
        assert (BOOK / f"{page}.md").is_file(), page


def test_internal_links_and_anchors_resolve():
    problems = [p for page in docs.pages() for p in docs.broken_links(page, page.read_text())]
    assert problems == [], "\n".join(problems)
    assert sum(len(docs.links(p.read_text())) for p in docs.pages()) > 50


def test_a_broken_link_or_anchor_is_found():
    page = BOOK / "made-up.md"
    text = ("# Made up\n\nSee [the config](configuration.md#no-such-heading), [gone](gone.md),\n"
            "[here](#made-up), [there](#nowhere), [ok](configuration.md), [out](../../Makefile),\n"
            "`[not a link](nothing.md)` and [web](https://example.com/x.md).\n")
    assert docs.broken_links(page, text) == [
        "docs/src/made-up.md:3: configuration.md#no-such-heading: no heading with anchor #no-such-heading",
        "docs/src/made-up.md:3: gone.md: no such file",
        "docs/src/made-up.md:4: #nowhere: no heading with anchor #nowhere",
        "docs/src/made-up.md:4: ../../Makefile: outside docs/src, so missing from the rendered book",
    ]


def test_anchors_are_the_renderers():
    assert docs.anchor("What it will not break") == "what-it-will-not-break"
    assert docs.anchor("Plan, apply, history, undo") == "plan-apply-history-undo"
    assert docs.anchor("In chat: Slack, Microsoft Teams, Amazon Chime") == "in-chat-slack-microsoft-teams-amazon-chime"
    assert docs.anchor("`GUARD_MODE` and [links](x.md)") == "guard_mode-and-links"
    assert docs.anchors("# A\n## A\n```\n# not a heading\n```\n") == {"a", "a-1"}


def test_every_make_target_the_docs_name_exists():
    defined = docs.make_targets(f.read_text() for f in docs.makefiles())
    assert {"demo", "test", "docs", "test-docs", "bench", "invoke"} <= defined
    missing = sorted(f"{page.relative_to(ROOT)}: make {t}" for page in docs.pages()
                     for t in docs.named_targets(page.read_text()) - defined)
    assert missing == [], "\n".join(missing)
    named = set().union(*(docs.named_targets(p.read_text()) for p in docs.pages()))
    assert {"demo", "test", "bench", "docs"} <= named


def test_a_target_that_does_not_exist_is_found():
    defined = docs.make_targets(["all: test\n.PHONY: x\ntest: deps lint\n\t$(CARGO) test\nX := 1\n"
                                 "ifeq ($(A),b)\nsam: deps\nelse\nsam:\nendif\n$(BIN): src\n"])
    assert defined == {"all", "test", "sam"}
    page = ("Run `make test`, then `SAM_LOCAL=skip make sam` and\n```sh\nmake invoke EVENT=events/x.json  # one\n"
            "make -j2 tset\n```\nto make sure (prose is not a command).\n")
    assert docs.named_targets(page) == {"test", "sam", "invoke", "tset"}
    assert docs.named_targets(page) - defined == {"invoke", "tset"}


def test_make_bench_writes_its_tables_into_the_benchmarks_page(tmp_path):
    page = (BOOK / "benchmarks.md").read_text()
    assert page.count("<!-- bench:start -->") == 1 and page.count("<!-- bench:end -->") == 1
    assert "<!-- bench:" not in (ROOT / "README.md").read_text()
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        spec = importlib.util.spec_from_file_location("bench_run", ROOT / "bench" / "run.py")
        run = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(run)
    except ImportError as e:  # the bench's own modules import c7n lazily; boto3 is enough here
        pytest.fail(f"bench/run.py does not import: {e}")
    finally:
        sys.path.remove(str(ROOT / "bench"))
    assert run.BOOK_PAGE == BOOK / "benchmarks.md"
    copy = tmp_path / "benchmarks.md"
    copy.write_text("# Benchmarks\n\nintro\n\n<!-- bench:start -->\nold table\n<!-- bench:end -->\n\n## Kept\n")
    run.write_book_page("| new | table |", copy)
    assert copy.read_text() == ("# Benchmarks\n\nintro\n\n<!-- bench:start -->\n| new | table |\n"
                                "<!-- bench:end -->\n\n## Kept\n")
