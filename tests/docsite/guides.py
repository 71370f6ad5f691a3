# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The guides under docs/*.md as antsibull-docs extra docs, and the docsite build's warnings judged.

    python guides.py extra-docs COLLECTION   # write docs/docsite/rst/<guide>.rst and extra-docs.yml
    python guides.py warnings FILE           # exit 1 when sphinx-build's warning file holds any
                                             # warning but an unreachable intersphinx target

Extra docs must be reStructuredText; the guides are Markdown and stay the one source. Each
docs/<guide>.md is converted with pandoc (pypandoc-binary) into a copy of the collection that
the docsite is built from, never into the checkout: every guide is picked up, none is listed
by hand. A link to another guide becomes a reference to its label, a link to another file of
the checkout a link into the repository galaxy.yml names.
"""

from __future__ import annotations

import os
import re
import sys

import yaml

COLLECTION_NAME = "memops.linux"
LABEL_PREFIX = "ansible_collections.%s.docsite." % COLLECTION_NAME
SECTION_TITLE = "Guides"

_FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
# pandoc writes a Markdown link [text](target) as `text <target>`__
_RST_LINK = re.compile(r"`(?P<text>[^`<]*?)\s*<(?P<target>[^`>]+)>`__")
_WARNING_START = re.compile(r"^(?:\S.*?: )?(?:WARNING|ERROR|CRITICAL): ")
# sphinx-build without the network: it cannot fetch the intersphinx inventories, so every
# reference into them (ansible-core's docs, other collections) is left unresolved
_UNREACHABLE_INVENTORY = re.compile(r"WARNING: failed to reach any of the inventories")
_UNDEFINED_LABEL = re.compile(r"WARNING: undefined label: '(?P<label>[^']+)'")


def guides(collection):
    """The Markdown guides: {name: path} of every docs/*.md, in name order."""
    docs = os.path.join(collection, "docs")
    return {name[:-3]: os.path.join(docs, name) for name in sorted(os.listdir(docs))
            if name.endswith(".md") and os.path.isfile(os.path.join(docs, name))}


def label(name):
    return LABEL_PREFIX + name


def title(markdown):
    """The text of the first level-1 heading, outside code blocks."""
    fence = None
    for line in markdown.splitlines():
        match = _FENCE.match(line)
        if match:
            fence = _fence_state(fence, match)
            continue
        if fence is None and line.startswith("# "):
            return line[2:].strip()
    raise ValueError("no level-1 heading (a line starting with '# '): a guide needs a title")


def _fence_state(fence, match):
    """The fence still open after a fence line: None once it is closed."""
    marker = match.group("fence")
    if fence is None:
        return marker
    if marker[0] == fence[0] and len(marker) >= len(fence) and not match.group("info").strip():
        return None
    return fence


def label_code_blocks(markdown):
    """Give a code block without a language the language "text".

    Sphinx highlights a block without one as YAML+Jinja (the Ansible docsite's default) and
    warns when it is not YAML: command output, JSON fragments, diagrams."""
    out = []
    fence = None
    for line in markdown.splitlines(True):
        match = _FENCE.match(line.rstrip("\n"))
        if match:
            opening = fence is None
            fence = _fence_state(fence, match)
            if opening and not match.group("info").strip():
                line = "%s%stext%s" % (match.group("indent"), match.group("fence"), line[len(line.rstrip("\n")):])
        out.append(line)
    return "".join(out)


def rewrite_links(rst, names, source, collection, repository):
    """Links of a converted guide that pointed at files of the checkout.

    names: the guides; source: the guide's path; repository: galaxy.yml's repository URL."""
    def replace(match):
        text, target = match.group("text"), match.group("target")
        if re.match(r"^[a-z][a-z0-9+.-]*:|^#|^/", target):
            return match.group(0)
        path, anchor = target.partition("#")[::2]
        resolved = os.path.normpath(os.path.join(os.path.dirname(source), path))
        relative = os.path.relpath(resolved, collection)
        if relative.startswith(os.pardir):
            raise ValueError("%s links to %s, outside the collection" % (os.path.relpath(source, collection), target))
        guide = relative[len("docs/"):-len(".md")] if relative.startswith("docs/") and relative.endswith(".md") else None
        if guide in names:
            return ":ref:`%s <%s>`" % (text or guide, label(guide))
        url = "%s/blob/main/%s%s" % (repository.rstrip("/"), relative, "#" + anchor if anchor else "")
        return "`%s <%s>`__" % (text or relative, url)
    return _RST_LINK.sub(replace, rst)


def convert(markdown):
    """GitHub Markdown to reStructuredText, by pandoc. Headings get no explicit labels: the
    extra docs' labels must all start with the collection's prefix."""
    import pypandoc  # pylint: disable=import-outside-toplevel
    return pypandoc.convert_text(markdown, "rst", format="gfm-gfm_auto_identifiers", extra_args=["--wrap=none"])


def write_extra_docs(collection):
    """Write docs/docsite/rst/<guide>.rst for every guide and add them to docs/docsite/extra-docs.yml
    (as a section of its own after the sections already there). Returns the guides' names."""
    with open(os.path.join(collection, "galaxy.yml"), encoding="utf-8") as handle:
        repository = yaml.safe_load(handle)["repository"]
    found = guides(collection)
    rst_dir = os.path.join(collection, "docs", "docsite", "rst")
    os.makedirs(rst_dir, exist_ok=True)
    toctree = []
    for name, path in found.items():
        with open(path, encoding="utf-8") as handle:
            markdown = handle.read()
        try:
            heading = title(markdown)
        except ValueError as error:
            raise ValueError("docs/%s.md: %s" % (name, error)) from None
        rst = rewrite_links(convert(label_code_blocks(markdown)), found, path, collection, repository)
        target = os.path.join(rst_dir, name + ".rst")
        if os.path.exists(target):
            raise ValueError("docs/docsite/rst/%s.rst exists; rename it or docs/%s.md" % (name, name))
        with open(target, "w", encoding="utf-8") as handle:
            handle.write(".. _%s:\n\n%s" % (label(name), rst))
        toctree.append({"ref": name, "title": heading})
    index_path = os.path.join(collection, "docs", "docsite", "extra-docs.yml")
    index = {}
    if os.path.exists(index_path):
        with open(index_path, encoding="utf-8") as handle:
            index = yaml.safe_load(handle) or {}
    index.setdefault("sections", []).append({"title": SECTION_TITLE, "toctree": toctree})
    with open(index_path, "w", encoding="utf-8") as handle:
        yaml.safe_dump(index, handle, sort_keys=False)
    return list(found)


def warnings(text):
    """sphinx-build's warnings (a -w file), one string each with its continuation lines."""
    entries = []
    for line in text.splitlines():
        if _WARNING_START.match(line) or not entries:
            entries.append(line)
        else:
            entries[-1] += "\n" + line
    return [entry for entry in entries if entry.strip()]


def tolerated(warning):
    """Only what a build without the network cannot avoid: an intersphinx inventory that cannot be
    fetched, and a reference to a label outside this collection, which only such an inventory holds."""
    if _UNREACHABLE_INVENTORY.search(warning):
        return True
    match = _UNDEFINED_LABEL.search(warning)
    return bool(match) and not match.group("label").startswith("ansible_collections.%s." % COLLECTION_NAME)


def main(argv):
    if len(argv) == 2 and argv[0] == "extra-docs":
        try:
            names = write_extra_docs(argv[1])
        except ValueError as error:
            print("extra docs: %s" % error, file=sys.stderr)
            return 1
        print("extra docs: %d guides (%s)" % (len(names), ", ".join(names)))
        return 0 if names else 1
    if len(argv) == 2 and argv[0] == "warnings":
        with open(argv[1], encoding="utf-8") as handle:
            found = warnings(handle.read())
        failing = [entry for entry in found if not tolerated(entry)]
        print("sphinx-build: %d warnings, %d tolerated (unreachable intersphinx targets)"
              % (len(found), len(found) - len(failing)))
        for entry in failing:
            print(entry)
        return 1 if failing else 0
    print("usage: guides.py extra-docs COLLECTION | warnings FILE", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
