# Copyright (c) gofleet developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection's changelog and documentation through the Ansible ecosystem's own tools, as a
contributor and the Ansible docsite use them: antsibull-changelog's fragment lint, antsibull-docs'
collection lint, and a static docs site (antsibull-docs + Sphinx) built from the same sources as
ansible-doc. Plus the one piece of meta/runtime.yml a user copies: the action group example.

Everything runs offline (the tools come from PyPI through requirements/test.txt); the site build
turns intersphinx off, so the only references it cannot resolve are labels of the Ansible docs
(OFFLINE_LABELS), and any other warning fails the test.
"""

from __future__ import annotations

import glob
import json
import os
import re
import subprocess

import yaml

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPO = os.path.dirname(TESTS)
FRAGMENTS = os.path.join(REPO, "changelogs", "fragments")
FQCN = "gofleet.golang"


def _tree():
    """The collection at .../ansible_collections/gofleet/golang (tests/conftest.py links it)."""
    return os.path.join(os.environ["ANSIBLE_COLLECTIONS_PATH"], "ansible_collections", "gofleet", "golang")


def _run(argv, cwd, timeout=600):
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False)


# ---- changelog fragments ------------------------------------------------------------------------
def test_changelog_fragments_pass_antsibull_changelog_lint():
    """Each fragment is YAML of known sections and its text is valid RST (docutils)."""
    done = _run(["antsibull-changelog", "lint"], _tree())
    assert done.returncode == 0 and not done.stdout.strip(), done.stdout + done.stderr


def _versioned_objects():
    """(kind, name) of every plugin and role that antsibull-changelog lists by itself under
    "New Modules" / "New Plugins" / "New Roles": the ones whose docs say version_added."""
    found = set()
    for kind in ("modules", "lookup"):
        for path in glob.glob(os.path.join(REPO, "plugins", kind, "*.py")):
            with open(path) as f:
                if re.search(r"^version_added:", f.read(), re.M):
                    found.add((kind.rstrip("s"), os.path.basename(path)[:-3]))
    for path in glob.glob(os.path.join(REPO, "roles", "*", "meta", "argument_specs.yml")):
        with open(path) as f:
            main = (yaml.safe_load(f).get("argument_specs") or {}).get("main") or {}
        if "version_added" in main:
            found.add(("role", path.split(os.sep)[-3]))
    return found


ANSIBLE_MARKUP = re.compile(r"(?<![\w`])[CIOVMRPEBLU]\([^)\s][^)]*\)")
NEW_OBJECT = re.compile(r"^New (module|lookup|plugin|filter|role)s? ``(?:gofleet\.golang\.)?(\w+)``", re.I)


def check_fragments(folder):
    """What antsibull-changelog lint does not see: Ansible markup (C(...)) that RST prints as it
    is, and "New module ..." entries for what antsibull lists from version_added anyway."""
    versioned = _versioned_objects()
    problems = []
    for path in sorted(glob.glob(os.path.join(folder, "*.yml")) + glob.glob(os.path.join(folder, "*.yaml"))):
        with open(path) as f:
            sections = yaml.safe_load(f) or {}
        name = os.path.basename(path)
        for section, entries in sections.items():
            for entry in entries if isinstance(entries, list) else [entries]:
                if not isinstance(entry, str):  # an unquoted "a: b" is a mapping (the lint says so too)
                    problems.append("%s (%s): not a string: %r; quote it" % (name, section, entry))
                    continue
                for markup in ANSIBLE_MARKUP.findall(entry):
                    problems.append("%s (%s): Ansible markup %s in RST; write ``...``" % (name, section, markup))
                new = NEW_OBJECT.match(entry)
                if new:
                    kind = new.group(1).lower()
                    kind = "lookup" if kind in ("plugin", "filter") else kind
                    if (kind, new.group(2)) in versioned:
                        problems.append("%s (%s): antsibull-changelog lists the new %s %s from its version_added; "
                                        "drop this entry" % (name, section, kind, new.group(2)))
    return problems


def test_fragments_are_rst_and_do_not_announce_what_antsibull_lists():
    assert check_fragments(FRAGMENTS) == []


def test_the_fragment_check_catches_both_mistakes(tmp_path):
    """Guard for the test above: the two mistakes the fragments had (as of issue 13) are found."""
    (tmp_path / "x.yml").write_text(
        "minor_changes:\n"
        "  - New module ``gofleet.golang.go_install`` - installs Go.\n"
        "  - go_install - keep and C(state=absent) remove a version with its rebuilds.\n")
    problems = check_fragments(str(tmp_path))
    assert len(problems) == 2, problems
    assert "new module go_install" in problems[0] and "C(state=absent)" in problems[1]


# ---- docs ---------------------------------------------------------------------------------------
def test_antsibull_docs_lint_collection_docs_is_clean():
    """Schema, markup and references (O(...), RV(...), M(...)) of every module, plugin and role, as
    the Ansible docsite checks them. rstcheck is skipped: the site build below runs docutils."""
    done = _run(["antsibull-docs", "lint-collection-docs", "--plugin-docs", "--skip-rstcheck", "."], _tree())
    assert done.returncode == 0, done.stdout + done.stderr


# labels of the Ansible docs (docs.ansible.com, through intersphinx) that antsibull-docs links to
OFFLINE_LABELS = {"common_return_values", "ansible_configuration_settings"}


def _documented():
    """file stem -> kind of each page the site must have: modules, the lookup, the roles."""
    pages = {}
    for kind, pattern in (("module", "plugins/modules/*.py"), ("lookup", "plugins/lookup/*.py")):
        for path in glob.glob(os.path.join(REPO, pattern)):
            pages["%s_%s" % (os.path.basename(path)[:-3], kind)] = kind
    for path in glob.glob(os.path.join(REPO, "roles", "*", "meta", "argument_specs.yml")):
        pages["%s_role" % path.split(os.sep)[-3]] = "role"
    return pages


def test_static_docs_site_builds_from_the_same_sources(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    os.chmod(site, 0o755)  # antsibull-docs writes only into folders no one else can write
    done = _run(["antsibull-docs", "sphinx-init", "--use-current", "--squash-hierarchy", "--fail-on-error",
                 "--dest-dir", str(site), FQCN], REPO)
    assert done.returncode == 0, done.stdout + done.stderr
    with open(site / "conf.py", "a") as f:
        f.write("\nintersphinx_mapping = {}  # offline: no docs.python.org, no docs.ansible.com\n")
    (site / "rst").mkdir(exist_ok=True)
    os.chmod(site / "rst", 0o755)
    done = _run(["antsibull-docs", "--config-file", "antsibull-docs.cfg", "collection", "--cleanup", "everything",
                 "--fail-on-error", "--use-current", "--squash-hierarchy", "--dest-dir", "rst", FQCN], str(site))
    assert done.returncode == 0, done.stdout + done.stderr
    warnings = site / "warnings.txt"
    done = _run(["sphinx-build", "-M", "html", "rst", "build", "-c", ".", "-q", "-w", str(warnings)], str(site))
    assert done.returncode == 0, done.stdout + done.stderr
    unexpected = [line for line in warnings.read_text().splitlines()
                  if line.strip() and not any("undefined label: '%s'" % label in line for label in OFFLINE_LABELS)]
    assert unexpected == [], "\n".join(unexpected)

    html = site / "build" / "html"
    missing = [stem for stem in _documented() if not (html / (stem + ".html")).is_file()]
    assert missing == [], "no page for %s" % missing
    page = (html / "go_install_module.html").read_text()
    # the module's own documentation, rendered: its title, options and their defaults, examples
    assert "gofleet.golang.go_install module" in page
    for text in ("install_root", "/opt/go", "active_link", "/usr/local/go", "base_url", "https://go.dev"):
        assert text in page, text
    assert "Examples" in page and "Return Values" in page
    index = (html / "index.html").read_text()
    assert all(stem + ".html" in index for stem in _documented())


# ---- meta/runtime.yml ---------------------------------------------------------------------------
def _runtime_example():
    """The module_defaults example in meta/runtime.yml's comment, parsed."""
    with open(os.path.join(REPO, "meta", "runtime.yml")) as f:
        text = f.read()
    lines, inside = [], False
    for line in text.splitlines():
        if re.match(r"#\s+module_defaults:", line):
            inside = True
        elif inside and not re.match(r"#\s{3,}\S", line):
            break
        if inside:
            lines.append(line[1:])
    assert lines, "no module_defaults example in meta/runtime.yml"
    return yaml.safe_load("\n".join(lines))["module_defaults"], yaml.safe_load(text)["action_groups"]


def _module_options(names):
    """module -> its option names as ansible-doc renders them (doc fragments included)."""
    done = _run(["ansible-doc", "--json", "-t", "module"] + ["%s.%s" % (FQCN, n) for n in names], REPO)
    assert done.returncode == 0, done.stderr
    return {fq.split(".")[-1]: set(d["doc"].get("options") or {}) for fq, d in json.loads(done.stdout).items()}


def test_action_group_example_names_only_options_every_member_takes():
    """Ansible passes a group's module_defaults to every module of the group, and a module fails
    on an option it does not take ("Unsupported parameters"): the example must work as written."""
    example, groups = _runtime_example()
    options = _module_options(sorted({m for members in groups.values() for m in members}))
    wrong = []
    for key, defaults in example.items():
        assert key.startswith("group/%s." % FQCN), key
        group = key.split(".")[-1]
        assert group in groups, "%s is not an action group of meta/runtime.yml" % key
        for module in groups[group]:
            wrong += ["%s: %s does not take %s" % (key, module, o) for o in defaults if o not in options[module]]
    assert wrong == []


def test_the_group_of_every_module_holds_every_module():
    groups = _runtime_example()[1]
    modules = {os.path.basename(p)[:-3] for p in glob.glob(os.path.join(REPO, "plugins", "modules", "*.py"))}
    assert set(groups["go"]) == modules
