"""Header formats: fields and content split as in logparser's benchmark settings."""

from __future__ import annotations

import pytest

from vigil.analysis.log_format import LogFormat


def test_header_fields_and_content() -> None:
    fmt = LogFormat(r"<Date> <Time> <Level> \[<Process>\] <Component>: <Content>")
    parsed = fmt.split(
        "2015-10-18 18:01:47,978 INFO [main] org.apache.MRAppMaster: Created MRAppMaster x"
    )
    assert parsed.content == "Created MRAppMaster x"
    assert parsed.header == {
        "Date": "2015-10-18",
        "Time": "18:01:47,978",
        "Level": "INFO",
        "Process": "main",
        "Component": "org.apache.MRAppMaster",
    }


def test_optional_group_and_runs_of_spaces() -> None:
    fmt = LogFormat(r"<Month> <Date> <Time> <Host> <Component>(\[<PID>\])?: <Content>")
    with_pid = fmt.split("Jun 14 15:16:01 combo sshd(pam_unix)[19939]: check pass; user unknown")
    assert with_pid.content == "check pass; user unknown"
    assert with_pid.header["PID"] == "19939"
    without = fmt.split("Jun  9 06:06:20 combo kernel: Linux version 2.6.5")
    assert without.content == "Linux version 2.6.5"
    assert "PID" not in without.header


def test_a_line_that_does_not_fit_is_all_content() -> None:
    fmt = LogFormat(r"\[<Time>\] \[<Level>\] <Content>")
    assert fmt.split("  free text  ").content == "free text"
    assert fmt.split("  free text  ").header == {}
    assert LogFormat(None).split("[x] [y] z").content == "[x] [y] z"


def test_format_needs_content() -> None:
    with pytest.raises(ValueError, match="Content"):
        LogFormat("<Date> <Time>")
