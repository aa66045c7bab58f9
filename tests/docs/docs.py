"""Reading the book's Markdown for `tests/docs` (issue 27): pages, headings and their anchors,
links, the `make` targets a page names, the fenced blocks marked for the doc test.

Plain functions over text, so each check can be shown failing on a made-up page
(test_docs.py). No mdBook needed: `make test` reads the Markdown, `make docs` renders it.
"""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BOOK = ROOT / "docs" / "src"


def pages():
    """README.md and every page of the book."""
    return [ROOT / "README.md", *sorted(BOOK.rglob("*.md"))]


FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})(.*)$")


def blocks(text):
    """(info string, body, first line number) of each fenced code block."""
    out, lines, i = [], text.split("\n"), 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        fence, info, start, body = m.group(2), m.group(3).strip(), i + 1, []
        i += 1
        while i < len(lines) and not lines[i].strip().startswith(fence):
            body.append(lines[i])
            i += 1
        out.append((info, "\n".join(body), start))
        i += 1
    return out


def prose(text):
    """The text outside fenced blocks, with inline code spans blanked (links in code are no links)."""
    out, fenced = [], None
    for line in text.split("\n"):
        m = FENCE.match(line)
        if m and (fenced is None or m.group(2).startswith(fenced)):
            fenced = m.group(2)[:3] if fenced is None else None
            out.append("")
            continue
        out.append("" if fenced else re.sub(r"`[^`]*`", lambda c: " " * len(c.group(0)), line))
    return "\n".join(out)


def code(text):
    """Every inline code span and every fenced block's body: where commands are written."""
    spans = []
    for line in prose_keep_code(text).split("\n"):
        spans += re.findall(r"`([^`]+)`", line)
    return spans + [body for _, body, _ in blocks(text)]


def prose_keep_code(text):
    out, fenced = [], None
    for line in text.split("\n"):
        m = FENCE.match(line)
        if m and (fenced is None or m.group(2).startswith(fenced)):
            fenced = m.group(2)[:3] if fenced is None else None
            continue
        if not fenced:
            out.append(line)
    return "\n".join(out)


# --- headings and anchors ------------------------------------------------------------------

def heading_text(markdown):
    """A heading's text as a renderer shows it: links to their text, code and emphasis marks gone."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", markdown)
    text = re.sub(r"<[^>]+>", "", text)
    return text.replace("`", "").replace("*", "")


def anchor(text):
    """mdBook's `normalize_id` (and, for these headings, GitHub's): lower case, whitespace to `-`,
    only alphanumerics, `-` and `_` kept."""
    out = []
    for ch in heading_text(text).strip():
        if ch.isalnum() or ch in "-_":
            out.append(ch.lower())
        elif ch.isspace():
            out.append("-")
    return "".join(out)


def anchors(text):
    """Every heading's anchor on a page; a repeated heading gets `-1`, `-2`, … as both renderers do."""
    seen, out = {}, set()
    for line in prose_keep_code(text).split("\n"):
        m = re.match(r"^(#{1,6})\s+(.*?)\s*#*\s*$", line)
        if not m:
            continue
        base = anchor(m.group(2))
        n = seen.get(base, 0)
        seen[base] = n + 1
        out.add(base if n == 0 else f"{base}-{n}")
    for m in re.finditer(r'<a\s+(?:name|id)="([^"]+)"', text):
        out.add(m.group(1))
    return out


# --- links ---------------------------------------------------------------------------------

LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE = re.compile(r"^\s*\[[^\]]+\]:\s*(\S+)", re.M)


def links(text):
    """(target, line number) of each Markdown link outside code."""
    body = prose(text)
    out = []
    for pattern in (LINK, REFERENCE):
        for m in pattern.finditer(body):
            out.append((m.group(1), body.count("\n", 0, m.start()) + 1))
    return out


def external(target):
    return re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I) is not None


def broken_links(page, text, read=lambda p: p.read_text()):
    """One line per relative link of `page` that names no file, an anchor its page lacks, or
    (a book page) a file outside the book, which the rendered book does not have."""
    problems = []
    in_book = BOOK in page.parents
    for target, line in links(text):
        if external(target):
            continue
        path, _, frag = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        where = f"{page.relative_to(ROOT)}:{line}: {target}"
        if path and not dest.exists():
            problems.append(f"{where}: no such file")
            continue
        if in_book and path and BOOK not in dest.parents:
            problems.append(f"{where}: outside docs/src, so missing from the rendered book")
            continue
        if frag and dest.suffix == ".md" and frag not in anchors(read(dest) if dest != page else text):
            problems.append(f"{where}: no heading with anchor #{frag}")
    return problems


def summary_pages(summary_text):
    """The pages SUMMARY.md lists."""
    return [t for t, _ in links(summary_text) if not external(t)]


# --- make targets --------------------------------------------------------------------------

def makefiles(root=ROOT):
    """The Makefile and every file it includes."""
    files, queue = [], [root / "Makefile"]
    while queue:
        f = queue.pop()
        if not f.exists() or f in files:
            continue
        files.append(f)
        for m in re.finditer(r"^-?include\s+(.+)$", f.read_text(), re.M):
            queue += [root / name for name in m.group(1).split()]
    return files


def make_targets(texts):
    """The targets the makefiles' rules define (`name ...: prerequisites`), in either branch of a
    conditional, pattern and variable targets left out."""
    targets = set()
    for text in texts:
        for line in text.split("\n"):
            if line.startswith(("\t", "#", " ")) or "=" in line.split(":", 1)[0]:
                continue
            m = re.match(r"^([^:#=]+?)\s*::?(?!=)", line)
            if m:
                targets.update(t for t in m.group(1).split() if "$" not in t and "%" not in t)
    return targets - {".PHONY"}


TARGET = re.compile(r"^[a-z][a-z0-9_.-]*$")


def named_targets(text):
    """The `make` targets a page names in its code: `make demo`, `SAM_LOCAL=skip make test`,
    `make invoke EVENT=…` (variable assignments and flags skipped)."""
    found = set()
    for snippet in code(text):
        for m in re.finditer(r"(?:^|[\s;&|(`])make((?:[ \t]+[^\s#;&|)`]+)+)", snippet):
            for word in m.group(1).split():
                if "=" in word or word.startswith("-"):
                    continue
                if not TARGET.match(word):
                    break
                found.add(word)
    return found


# --- the doc test --------------------------------------------------------------------------

def doctest_commands(text, marker="doctest"):
    """(command, expected exit code, line) for each command of the blocks whose info string
    carries `marker`; `\\` continues a command; a trailing comment `exit N` sets the code (else 0)."""
    out = []
    for info, body, start in blocks(text):
        if marker not in info.split():
            continue
        pending, first = "", None
        for offset, raw in enumerate(body.split("\n")):
            if not raw.strip() or (not pending and raw.strip().startswith("#")):
                continue
            first = first if pending else start + offset + 1
            if raw.rstrip().endswith("\\"):
                pending += raw.rstrip()[:-1] + " "
                continue
            command = pending + raw
            pending = ""
            m = re.search(r"\s#\s*exit (\d+)\b", command)
            out.append((command.strip(), int(m.group(1)) if m else 0, first))
    return out


def doctest_script(commands):
    """A bash script that runs the commands in one shell (so `export` and `&` carry on) and stops
    at the first whose exit code is not the one its comment gives."""
    lines = []
    for n, (command, expected, line) in enumerate(commands, 1):
        lines.append(command)
        if re.search(r"&\s*(#.*)?$", command):
            continue  # a background job: its own exit code is not known yet
        quoted = command.replace("'", "'\\''")
        lines.append(f"__rc=$?; if [ $__rc -ne {expected} ]; then echo 'doctest: line {line}: exit code '$__rc', "
                     f"expected {expected}: {quoted}' >&2; exit 97; fi")
    return "\n".join(lines) + "\n"
