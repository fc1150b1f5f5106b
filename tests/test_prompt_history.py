"""Prompt history from a real git repository: versions, validity, renames, owners, approvals."""

from datetime import UTC, datetime

import pytest

from audit_pipeline.loads.prompts import PromptRepoError, read_prompt_history
from audit_pipeline.sources.prompt_history import PromptSelector

OWNERS_V1 = "/prompts/support/ @acme/support\n*.md @acme/docs\n"
OWNERS_V2 = "/prompts/support/ @acme/support-ai @acme/legal\n"


@pytest.fixture
def history(git_repo):
    shas = {
        "add": git_repo.commit("2026-11-01T09:00:00+00:00", "alice", "Add prompts\n\nApproved-by: Bob <bob@example.com>",
                              write={"CODEOWNERS": OWNERS_V1, "prompts/support/triage.md": "v1",
                                     "prompts/support/answer.md": "answer v1", "notes.md": "not a prompt"}),
        "edit": git_repo.commit("2026-11-02T10:00:00+02:00", "bob", "Edit triage",
                               write={"prompts/support/triage.md": "v2"}),
        "owners": git_repo.commit("2026-11-03T09:00:00+00:00", "carol", "New owners",
                                 write={"CODEOWNERS": OWNERS_V2}),
        "rename": git_repo.commit("2026-11-04T09:00:00+00:00", "dave", "Rename answer to reply",
                                 move=("prompts/support/answer.md", "prompts/support/reply.md")),
        "delete": git_repo.commit("2026-11-05T09:00:00+00:00", "alice", "Retire triage",
                                 delete="prompts/support/triage.md"),
    }
    commits, versions, _ = read_prompt_history(str(git_repo.path), ("prompts/**",))
    return shas, commits.to_pylist(), versions.to_pylist()


def _version(versions, prompt_id, sha):
    [row] = [v for v in versions if v["prompt_id"] == prompt_id and v["version"] == sha]
    return row


def test_every_commit_is_recorded_with_its_approval_trailer(history):
    shas, commits, _ = history
    assert [c["commit_sha"] for c in commits] == list(shas.values())
    assert commits[0]["approved_by"] == "Bob <bob@example.com>"
    assert commits[1]["approved_by"] is None
    assert commits[1]["committed_at"] == datetime(2026, 11, 2, 8, 0, tzinfo=UTC)  # UTC, not +02:00
    assert [c["files_changed"] for c in commits] == [2, 1, 0, 1, 1]


def test_a_version_is_valid_until_the_next_change_of_the_same_file(history):
    shas, _, versions = history
    v1 = _version(versions, "support/triage", shas["add"])
    v2 = _version(versions, "support/triage", shas["edit"])
    assert v1["valid_to"] == v2["valid_from"] == datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
    assert v1["content_sha256"] != v2["content_sha256"]
    assert v1["change_type"] == "added" and v2["change_type"] == "modified"


def test_a_rename_starts_a_new_prompt_id_that_remembers_its_path(history):
    shas, _, versions = history
    old = _version(versions, "support/answer", shas["add"])
    new = _version(versions, "support/reply", shas["rename"])
    assert new["change_type"] == "renamed"
    assert new["previous_path"] == "prompts/support/answer.md"
    assert old["valid_to"] == new["valid_from"]
    assert new["content_sha256"] == old["content_sha256"]


def test_a_deletion_closes_the_last_version(history):
    shas, _, versions = history
    deleted = _version(versions, "support/triage", shas["delete"])
    assert deleted["change_type"] == "deleted" and deleted["content_sha256"] is None
    assert _version(versions, "support/triage", shas["edit"])["valid_to"] == deleted["valid_from"]


def test_owners_come_from_codeowners_as_it_stood_at_that_commit(history):
    shas, _, versions = history
    # In CODEOWNERS the last matching rule wins: `*.md` comes after the folder rule.
    assert _version(versions, "support/triage", shas["add"])["owners"] == "@acme/docs"
    assert _version(versions, "support/reply", shas["rename"])["owners"] == "@acme/support-ai,@acme/legal"


def test_files_outside_the_prompt_globs_are_not_versions(history):
    _, _, versions = history
    assert not [v for v in versions if v["path"] == "notes.md"]


@pytest.mark.parametrize(
    ("globs", "path", "prompt_id"),
    [
        (("prompts/**",), "prompts/support/triage.md", "support/triage"),
        (("prompts/**",), "other/triage.md", None),
        (("prompts/*.txt", "agents/**/system.md"), "prompts/a.txt", "a"),
        (("prompts/*.txt", "agents/**/system.md"), "agents/x/y/system.md", "x/y/system"),
        (("prompts/*.txt",), "prompts/sub/a.txt", None),
    ],
)
def test_prompt_globs_select_files_and_name_prompts(globs, path, prompt_id):
    assert PromptSelector(globs).prompt_id(path) == prompt_id


def test_a_missing_repository_is_a_clear_error(tmp_path):
    with pytest.raises(PromptRepoError, match="not a git repository"):
        read_prompt_history(str(tmp_path / "nowhere"), ("prompts/**",))
