"""Prompt history from real git workflows (issue 16): changes that arrive by merge keep their
authors, each version knows when it reached the main line, who merged and who approved; and
bare, no-checkout, blobless and shallow clones read as well as a full one, pathspec-limited.

The repositories are made with git itself the way hosts make them: feature branches merged
with `--no-ff` ("Merge pull request #N from …", GitHub's merge button; GitLab's "Merge branch
… into 'main'" with an `Approved-by:` trailer when approvals are required)."""

import hashlib
import subprocess
from datetime import UTC, datetime

import pytest

from audit_pipeline.loads.prompts import pathspecs, read_prompt_history
from audit_pipeline.sources.prompt_collections import CollectionSpec


@pytest.fixture
def merged(git_repo):
    """main: alice adds two prompts; bob and carol edit triage on a branch that maintainer
    merges; dave edits answer on a branch merged with an Approved-by trailer; erin commits
    directly to main."""
    shas = {"add": git_repo.commit("2026-11-01T09:00:00Z", "alice", "Add prompts",
                                   write={"prompts/triage.md": "v1", "prompts/answer.md": "a1",
                                          "data/big.bin": "x" * 50_000})}
    git_repo.branch("bob/triage")
    shas["bob"] = git_repo.commit("2026-11-02T09:00:00Z", "bob", "Sharper triage", write={"prompts/triage.md": "v2"})
    shas["carol"] = git_repo.commit("2026-11-02T11:00:00Z", "carol", "Fix typo", write={"prompts/triage.md": "v3"})
    git_repo.checkout("main")
    shas["merge1"] = git_repo.merge("2026-11-03T08:00:00Z", "maintainer", "bob/triage",
                                    "Merge pull request #12 from bob/triage\n\nSharper triage")
    git_repo.branch("dave/answer")
    shas["dave"] = git_repo.commit("2026-11-04T09:00:00Z", "dave", "Shorter answers", write={"prompts/answer.md": "a2",
                                                                                          "data/big.bin": "y" * 50_000})
    git_repo.checkout("main")
    shas["merge2"] = git_repo.merge("2026-11-05T08:00:00Z", "maintainer", "dave/answer",
                                    "Merge branch 'dave/answer' into 'main'\n\nApproved-by: Frank <frank@example.com>")
    shas["erin"] = git_repo.commit("2026-11-06T08:00:00Z", "erin", "Hotfix", write={"prompts/triage.md": "v4"})
    return git_repo, shas


def _versions(repo_path, shas):
    commits, versions, _ = read_prompt_history(str(repo_path), ("prompts/**",))
    names = {sha: name for name, sha in shas.items()}
    return ({names.get(c["commit_sha"], c["commit_sha"]): c for c in commits.to_pylist()},
            {(v["prompt_id"], names[v["version"]]): v for v in versions.to_pylist()})


def test_every_commit_that_touched_a_prompt_keeps_its_author_merged_branches_included(merged):
    repo, shas = merged
    commits, _ = _versions(repo.path, shas)
    assert set(commits) == set(shas)  # bob's, carol's and dave's branch commits are there
    assert {name: (c["author_email"], c["on_main_line"], c["main_line_commit"]) for name, c in commits.items()
            if name in ("bob", "carol", "dave", "merge1")} == {
        "bob": ("bob@example.com", False, shas["merge1"]), "carol": ("carol@example.com", False, shas["merge1"]),
        "dave": ("dave@example.com", False, shas["merge2"]), "merge1": ("maintainer@example.com", True, shas["merge1"])}


def test_a_merged_version_is_authored_by_who_edited_it_and_approved_by_who_merged(merged):
    repo, shas = merged
    _, versions = _versions(repo.path, shas)
    triage = versions["triage", "merge1"]
    assert (triage["author_email"], triage["contributors"]) == ("carol@example.com", "bob@example.com,carol@example.com")
    assert (triage["approved_by"], triage["approval_basis"], triage["merge_committer"]) == (
        "maintainer <maintainer@example.com>", "merge", "maintainer@example.com")
    assert triage["valid_from"] == triage["committed_at"] == datetime(2026, 11, 3, 8, 0, tzinfo=UTC)  # the merge
    assert versions["triage", "add"]["valid_to"] == triage["valid_from"]
    assert versions["triage", "erin"]["valid_from"] == datetime(2026, 11, 6, 8, 0, tzinfo=UTC)


def test_an_approved_by_trailer_on_the_merge_is_the_approval(merged):
    repo, shas = merged
    _, versions = _versions(repo.path, shas)
    answer = versions["answer", "merge2"]
    assert (answer["author_email"], answer["contributors"], answer["approved_by"], answer["approval_basis"]) == (
        "dave@example.com", "dave@example.com", "Frank <frank@example.com>", "trailer")


def test_a_direct_commit_is_its_own_author_with_no_recorded_approval(merged):
    repo, shas = merged
    _, versions = _versions(repo.path, shas)
    direct = versions["triage", "erin"]
    assert (direct["author_email"], direct["contributors"], direct["approved_by"], direct["approval_basis"],
            direct["merge_committer"]) == ("erin@example.com", "erin@example.com", None, None, None)


def test_history_reads_only_the_prompt_folders_and_codeowners():
    assert pathspecs(("prompts/**", "agents/*/system.md", "**/*.prompty")) == [
        ".", ".github/CODEOWNERS", ".gitlab/CODEOWNERS", "CODEOWNERS", "agents", "docs/CODEOWNERS", "prompts"]


def _clone(source, target, *flags):
    for setting in ("uploadpack.allowFilter", "uploadpack.allowAnySHA1InWant"):  # as hosts serve partial clones
        subprocess.run(["git", "-C", str(source), "config", setting, "true"], check=True)
    subprocess.run(["git", "clone", "-q", *flags, f"file://{source}", str(target)], check=True,
                   capture_output=True)
    return target


@pytest.mark.parametrize("flags", [("--bare",), ("--no-checkout",), ("--filter=blob:none", "--no-checkout")],
                         ids=["bare", "no-checkout", "blobless"])
def test_bare_no_checkout_and_blobless_clones_read_the_same_history(merged, tmp_path, flags):
    repo, shas = merged
    clone = _clone(repo.path, tmp_path / "clone", *flags)
    assert _versions(clone, shas) == _versions(repo.path, shas)


def test_a_blobless_clone_never_fetches_other_paths_blobs(merged, tmp_path):
    repo, _ = merged
    clone = _clone(repo.path, tmp_path / "clone", "--filter=blob:none", "--no-checkout")

    def missing() -> set[str]:
        return {line[1:] for line in subprocess.run(
            ["git", "-C", str(clone), "rev-list", "--objects", "--all", "--missing=print"],
            capture_output=True, text=True, check=True).stdout.splitlines() if line.startswith("?")}

    big = {line.split()[0] for line in subprocess.run(
        ["git", "-C", str(repo.path), "rev-list", "--objects", "--all", "--", "data/big.bin"],
        capture_output=True, text=True, check=True).stdout.splitlines() if line.endswith("data/big.bin")}
    assert len(big) == 2 and big <= missing()  # a real partial clone: no blob was fetched
    _, versions, _ = read_prompt_history(str(clone), ("prompts/**",))
    assert big <= missing()  # both versions of the unrelated large file stayed remote
    assert all(v["content_sha256"] for v in versions.to_pylist())  # the prompts' own blobs were fetched


def test_a_shallow_clone_says_where_its_history_starts(merged, tmp_path):
    repo, shas = merged
    clone = _clone(repo.path, tmp_path / "clone", "--depth", "1")
    commits, _, _ = read_prompt_history(str(clone), ("prompts/**",))
    [boundary] = [c for c in commits.to_pylist() if c["shallow_boundary"]]
    assert boundary["commit_sha"] == shas["erin"]
    assert not any(c["shallow_boundary"] for c in read_prompt_history(str(repo.path), ("prompts/**",))[0].to_pylist())


def test_the_retention_evidence_knows_where_a_shallow_history_starts(merged, tmp_path):
    from audit_pipeline.retention.evidence import _history_starts

    repo, _ = merged
    shallow, _, _ = read_prompt_history(str(_clone(repo.path, tmp_path / "clone", "--depth", "1")), ("prompts/**",))
    full, _, _ = read_prompt_history(str(repo.path), ("prompts/**",))
    assert _history_starts(shallow) == datetime(2026, 11, 6, 8, 0, tzinfo=UTC)  # erin's commit, the clone's start
    assert _history_starts(full) is None
    assert _history_starts(full.drop_columns(["shallow_boundary"])) is None  # a table written before the column


LIBRARY_V1 = "triage:\n  text: Sort the ticket.\n  owner: support\nanswer: Answer politely.\n"
LIBRARY_V2 = "triage:\n  text: Sort the ticket by urgency.\n  owner: support\nanswer: Answer politely.\nrefund: Offer a refund.\n"


def test_a_declared_collection_gives_each_entry_its_own_prompt_versions_and_hash(git_repo):
    first = git_repo.commit("2026-11-01T09:00:00Z", "alice", "Library", write={"prompts/library.yaml": LIBRARY_V1,
                                                                           "prompts/plain.md": "p"})
    second = git_repo.commit("2026-11-02T09:00:00Z", "bob", "Urgency and refunds",
                             write={"prompts/library.yaml": LIBRARY_V2})
    third = git_repo.commit("2026-11-03T09:00:00Z", "carol", "Drop answer",
                            write={"prompts/library.yaml": LIBRARY_V2.replace("answer: Answer politely.\n", "")})
    spec = CollectionSpec("prompts/library.yaml", "yaml", text_field="text")
    _, versions, _ = read_prompt_history(str(git_repo.path), ("prompts/**",), (spec,))
    rows = sorted((v["prompt_id"], v["version"], v["change_type"]) for v in versions.to_pylist())
    assert rows == sorted([
        ("library/triage", first, "added"), ("library/answer", first, "added"), ("plain", first, "added"),
        ("library/triage", second, "modified"), ("library/refund", second, "added"),  # answer unchanged: no row
        ("library/answer", third, "deleted")])
    by_key = {(v["prompt_id"], v["version"]): v for v in versions.to_pylist()}
    assert by_key["library/triage", second]["content_sha256"] == hashlib.sha256(b"Sort the ticket by urgency.").hexdigest()
    assert by_key["library/answer", first]["content_sha256"] == hashlib.sha256(b"Answer politely.").hexdigest()
    assert by_key["library/answer", first]["valid_to"] == by_key["library/answer", third]["valid_from"]
    assert by_key["library/triage", second]["author_email"] == "bob@example.com"


@pytest.mark.parametrize(("name", "text", "spec", "expected"), [
    ("prompts/lib.json", '[{"id": "a", "prompt": "A"}, {"id": "b", "prompt": "B"}]',
     ("json", "id", "prompt"), {"lib/a": "A", "lib/b": "B"}),
    ("prompts/lib.csv", "name,prompt\nx,Say X\ny,Say Y\n", ("csv", "name", "prompt"), {"lib/x": "Say X", "lib/y": "Say Y"}),
    ("prompts/triage.prompty", "---\nname: Triage Bot\nmodel: gpt-4o\n---\nsystem:\nSort it.\n", ("prompty", None, None),
     {"triage/Triage Bot": "---\nname: Triage Bot\nmodel: gpt-4o\n---\nsystem:\nSort it.\n"}),
])
def test_json_lists_csv_and_prompty_collections(git_repo, name, text, spec, expected):
    git_repo.commit("2026-11-01T09:00:00Z", "alice", "Collection", write={name: text})
    _, versions, _ = read_prompt_history(str(git_repo.path), ("prompts/**",), (CollectionSpec(name, *spec),))
    assert {v["prompt_id"]: v["content_sha256"] for v in versions.to_pylist()} == {
        k: hashlib.sha256(v.encode()).hexdigest() for k, v in expected.items()}


def test_a_version_of_a_collection_that_does_not_parse_counts_as_one_prompt(git_repo):
    git_repo.commit("2026-11-01T09:00:00Z", "alice", "Broken", write={"prompts/lib.yaml": "a: [unclosed\n"})
    _, versions, _ = read_prompt_history(str(git_repo.path), ("prompts/**",), (CollectionSpec("prompts/lib.yaml", "yaml"),))
    assert [v["prompt_id"] for v in versions.to_pylist()] == ["lib"]  # its history is kept, not lost


def test_a_symbolic_link_in_the_prompt_repository_is_refused_never_followed(git_repo, tmp_path):
    secret = tmp_path / "outside.txt"
    secret.write_text("not a prompt")
    first = git_repo.commit("2026-11-01T09:00:00Z", "alice", "Prompt", write={"prompts/triage.md": "v1"})
    (git_repo.path / "prompts/evil.md").symlink_to(secret)
    (git_repo.path / "prompts/triage.md").unlink()
    (git_repo.path / "prompts/triage.md").symlink_to("/etc/passwd")
    link = git_repo.commit("2026-11-02T09:00:00Z", "mallory", "Links")
    _, versions, refused = read_prompt_history(str(git_repo.path), ("prompts/**",))
    rows = [(v["prompt_id"], v["version"], v["change_type"], v["content_sha256"])
            for v in sorted(versions.to_pylist(), key=lambda v: v["valid_from"])]
    assert [(p, sha, kind) for p, sha, kind, _ in rows] == [("triage", first, "added"), ("triage", link, "deleted")]
    assert rows[1][3] is None  # the prompt ended there; the link's target was never read
    assert sorted(r.split(" ")[0] for r in refused) == ["prompts/evil.md", "prompts/triage.md"]
    assert all("never followed" in r for r in refused)
