"""Blocking checks over a run's staged files: every file is put in place, or none is."""

from collections.abc import Iterator

import dagster as dg

from complaints_platform.lib.lake import StagedFiles


def commit_if_passed(staged: StagedFiles, blocking: list[dg.AssetCheckResult]) -> Iterator[dg.AssetCheckResult]:
    """Put the staged files in place when every blocking check passed. Otherwise yield the checks
    (so the UI shows why) and fail the run: nothing is put in place (leaving the ``with`` block
    deletes the staged files), so neither a downstream asset nor a dbt build (which reads every
    silver file) can see the data, and the files of the last good run stay where they are.

    A generator: call it with ``yield from`` inside the ``with StagedFiles()`` block (called
    without, it does nothing, and leaving the block deletes what was staged)."""
    failed = [check.check_name for check in blocking if not check.passed]
    if failed:
        yield from blocking
        raise dg.Failure(
            f"blocking checks failed: {', '.join(failed)}; nothing was written (the last good files stay in place)",
            metadata={"failed": failed},
        )
    staged.commit()
