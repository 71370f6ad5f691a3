# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""tests/docsite/guides.py: the Markdown guides as antsibull-docs extra docs, and which of
sphinx-build's warnings the docsite build lets pass (the docs step of scripts/test builds it)."""

from __future__ import annotations

import os
import shutil

import pytest
import yaml

from ansible_collections.memops.linux.tests.docsite import guides
from ansible_collections.memops.linux.tests.unit.playbook_run import COLLECTION

REPOSITORY = "https://github.com/memops/linux"


def test_a_code_block_without_a_language_gets_text():
    markdown = ("# T\n\n```\nok: [h] => {\n}\n```\n\n```yaml\na: 1\n```\n\n~~~~\n```\nin\n```\n~~~~\n"
                "    ```\n")
    assert guides.label_code_blocks(markdown) == (
        "# T\n\n```text\nok: [h] => {\n}\n```\n\n```yaml\na: 1\n```\n\n~~~~text\n```\nin\n```\n~~~~\n"
        "    ```\n")


def test_the_title_is_the_first_level_1_heading_outside_code():
    assert guides.title("```\n# not a heading\n```\n\n# Scale\n\n## Forks\n") == "Scale"
    with pytest.raises(ValueError, match="no level-1 heading"):
        guides.title("## Only a section\n")


@pytest.mark.parametrize("link, expected", [
    ("`the report <report.md>`__", ":ref:`the report <ansible_collections.memops.linux.docsite.report>`"),
    ("`queries <report.md#queries>`__", ":ref:`queries <ansible_collections.memops.linux.docsite.report>`"),
    ("`swap role <../roles/swap/README.md>`__", "`swap role <%s/blob/main/roles/swap/README.md>`__" % REPOSITORY),
    ("`test <../tests/unit/test_x.py#L3>`__", "`test <%s/blob/main/tests/unit/test_x.py#L3>`__" % REPOSITORY),
    ("`the sandbox <#the-sandbox>`__", "`the sandbox <#the-sandbox>`__"),
    ("`Galaxy <https://galaxy.ansible.com/>`__", "`Galaxy <https://galaxy.ansible.com/>`__"),
])
def test_links_to_the_checkout_are_rewritten(link, expected):
    source = os.path.join("/c", "docs", "scale.md")
    assert guides.rewrite_links("see %s." % link, {"report": "/c/docs/report.md"}, source, "/c", REPOSITORY + "/") \
        == "see %s." % expected


def test_a_link_out_of_the_collection_is_refused():
    with pytest.raises(ValueError, match=r"docs/scale\.md links to \.\./\.\./x\.md, outside the collection"):
        guides.rewrite_links("`x <../../x.md>`__", {}, "/c/docs/scale.md", "/c", REPOSITORY)


WARNINGS = """\
WARNING: failed to reach any of the inventories with the following issues:
intersphinx inventory 'https://docs.python.org/3/objects.inv' not fetchable due to <class 'ConnectionError'>
intersphinx inventory '../python3.inv' not readable due to FileNotFoundError
/s/rst/fleet_report_module.rst:312: WARNING: undefined label: 'ansible_collections.ansible.builtin.file_module' [ref.ref]
/s/rst/thp_module.rst:498: WARNING: undefined label: 'common_return_values' [ref.ref]
/s/rst/docsite/scale.rst:9: WARNING: undefined label: 'ansible_collections.memops.linux.docsite.nothing' [ref.ref]
/s/rst/docsite/report.rst:257: WARNING: Lexing literal_block 'ok: [localhost] => {
}' as "YAML+Jinja" resulted in an error at token: '}'. Retrying in relaxed mode. [misc.highlighting_failure]
/s/rst/index.rst:3: ERROR: Unknown directive type "nope".
"""


def test_only_unreachable_intersphinx_targets_are_tolerated():
    found = guides.warnings(WARNINGS)
    assert len(found) == 6
    assert found[0].count("\n") == 2 and found[4].endswith("[misc.highlighting_failure]")
    assert [guides.tolerated(entry) for entry in found] == [True, True, True, False, False, False]


def test_the_warnings_command_fails_on_any_other_warning(tmp_path, capsys):
    log = tmp_path / "warnings.log"
    log.write_text(WARNINGS, encoding="utf-8")
    assert guides.main(["warnings", str(log)]) == 1
    out = capsys.readouterr().out
    assert "6 warnings, 3 tolerated" in out and "docsite.nothing" in out and "Unknown directive" in out
    log.write_text("\n".join(WARNINGS.splitlines()[:5]) + "\n", encoding="utf-8")
    assert guides.main(["warnings", str(log)]) == 0
    log.write_text("", encoding="utf-8")
    assert guides.main(["warnings", str(log)]) == 0


def _collection(tmp_path, docs):
    root = tmp_path / "linux"
    (root / "docs").mkdir(parents=True)
    shutil.copy(os.path.join(COLLECTION, "galaxy.yml"), str(root / "galaxy.yml"))
    for name, text in docs.items():
        (root / "docs" / name).write_text(text, encoding="utf-8")
    return root


def test_every_guide_becomes_an_extra_doc(tmp_path):
    pytest.importorskip("pypandoc")
    root = _collection(tmp_path, {
        "scale.md": "# Scale\n\nForks, see [the report](report.md) and [a test](../tests/x.py).\n\n"
                    "```\nPLAY RECAP\n```\n\n| a | b |\n| --- | --- |\n| `1` | 2 |\n",
        "report.md": "# The fleet report\n\n## Queries\n\nText.\n",
        "notes.txt": "not a guide",
    })
    (root / "docs" / "docsite").mkdir()
    (root / "docs" / "docsite" / "extra-docs.yml").write_text(
        "sections:\n  - title: Scenarios\n    toctree:\n      - howto\n", encoding="utf-8")

    assert guides.write_extra_docs(str(root)) == ["report", "scale"]

    scale = (root / "docs" / "docsite" / "rst" / "scale.rst").read_text(encoding="utf-8")
    assert scale.startswith(".. _ansible_collections.memops.linux.docsite.scale:\n\nScale\n=====\n")
    assert ":ref:`the report <ansible_collections.memops.linux.docsite.report>`" in scale
    assert "`a test <%s/blob/main/tests/x.py>`__" % REPOSITORY in scale
    assert ".. code:: text\n\n   PLAY RECAP" in scale
    assert "``1``" in scale
    report = (root / "docs" / "docsite" / "rst" / "report.rst").read_text(encoding="utf-8")
    # headings get no labels of pandoc's: antsibull-docs allows only the collection's prefix
    assert [line for line in report.splitlines() if line.startswith(".. _")] == [
        ".. _ansible_collections.memops.linux.docsite.report:"]
    index = yaml.safe_load((root / "docs" / "docsite" / "extra-docs.yml").read_text(encoding="utf-8"))
    assert index == {"sections": [
        {"title": "Scenarios", "toctree": ["howto"]},
        {"title": "Guides", "toctree": [{"ref": "report", "title": "The fleet report"},
                                        {"ref": "scale", "title": "Scale"}]},
    ]}


def test_an_extra_doc_of_the_same_name_is_not_overwritten(tmp_path):
    pytest.importorskip("pypandoc")
    root = _collection(tmp_path, {"scale.md": "# Scale\n"})
    (root / "docs" / "docsite" / "rst").mkdir(parents=True)
    (root / "docs" / "docsite" / "rst" / "scale.rst").write_text("kept\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"docs/docsite/rst/scale\.rst exists; rename it or docs/scale\.md"):
        guides.write_extra_docs(str(root))
    assert (root / "docs" / "docsite" / "rst" / "scale.rst").read_text(encoding="utf-8") == "kept\n"


def test_the_checkout_s_guides_all_have_a_title():
    found = guides.guides(COLLECTION)
    assert "architecture" in found and "report" in found
    for path in found.values():
        with open(path, encoding="utf-8") as handle:
            assert guides.title(handle.read())
