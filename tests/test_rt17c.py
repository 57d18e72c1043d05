"""Red team rt17c (issue 17): disguised endpoint and proxy URLs, a remote host vouching for itself, and sequential
runs stopping on a "not applicable" that only the photos sent so far said.

The red team's scripts and outputs: /work/redteam/17c (preflight_url_parser.sh, preflight_proxy_parser.sh,
preflight_same_host.sh, seq_na_settled.sh with seq_consistency_na.py and seq_groupby_nonbinary.py).
"""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest

from conformance import load_dataset
from conformance.adapters import rekognition
from conformance.adapters.base import AdapterSettings
from conformance.adapters.registry import create
from conformance.cli import main
from conformance.demo import MANIFEST
from conformance.errors import ConformanceError
from conformance.recording.endpoints import endpoint_class, is_loopback, sent_to, unambiguous
from conformance.retention import Source, VendorRetentionRefused

# The red team's exact strings (192.0.2.2 was its machine's own non-loopback address).
DISGUISED_ENDPOINT = "http://192.0.2.2:18790\\@127.0.0.1:1"
DISGUISED_PROXY = "http://192.0.2.2:18791\\@127.0.0.1:1"


def _guarded(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Fake credentials; every connection and name lookup refused and listed (a listed attempt left the process)."""
    for name in ("AWS_CA_BUNDLE", "REQUESTS_CA_BUNDLE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_ORGANIZATIONS"):
        monkeypatch.delenv(name, raising=False)
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "TESTING")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "TESTING")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    attempts: list[Any] = []

    def refuse(self: socket.socket, address: Any) -> None:
        attempts.append(address)
        raise OSError(f"test guard: network blocked ({address})")

    def no_lookup(host: Any, *args: Any, **kwargs: Any) -> Any:
        attempts.append(("getaddrinfo", host))
        raise socket.gaierror(f"test guard: lookup blocked ({host})")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", no_lookup)
    return attempts


# -- F1: a URL that urlsplit and urllib3 read differently --------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "host", "loopback"),
    [
        # urlsplit reads 127.0.0.1 (after the last '@'); urllib3, which sends, ends the authority at the backslash.
        (DISGUISED_ENDPOINT, "192.0.2.2", False),
        (DISGUISED_PROXY, "192.0.2.2", False),
        ("http://127.0.0.1:1#@192.0.2.2", "127.0.0.1", True),
        ("http://192.0.2.2%40127.0.0.1:5", "192.0.2.2%40127.0.0.1", False),  # an encoded '@' is part of a name
        ("http://[::1]:5", "::1", True),
        ("http://[::ffff:127.0.0.1]:5", "::ffff:127.0.0.1", False),  # not a literal loopback address: gated
        ("http://127.0.0.1.nip.io:5", "127.0.0.1.nip.io", False),  # a name is not resolved to decide
        ("http://127.1:5", "127.1", False),
        ("http://localhost.:5", "localhost.", False),
        ("http://LOCALHOST:5", "localhost", True),
        ("http://127.0.0.9:5", "127.0.0.9", True),
    ],
)
def test_the_host_is_the_one_urllib3_connects_to(url: str, host: str, loopback: bool) -> None:
    assert sent_to(url)[1] == host
    assert is_loopback(url) is loopback


def test_the_disguised_endpoint_is_classified_by_the_host_it_reaches() -> None:
    # urlsplit read 127.0.0.1 and called it loopback; urllib3 connects to the public host before the backslash.
    assert endpoint_class("http://8.8.8.8:18790\\@127.0.0.1:1", vendor_host="x") == "other"
    assert endpoint_class("http://8.8.8.8:18790\\@127.0.0.1:1", vendor_host="x", emulator=True) == "other"


@pytest.mark.parametrize(
    ("url", "why"),
    [
        (DISGUISED_ENDPOINT, "backslash"),
        ("http://127.0.0.1:1#@192.0.2.2", "'@'"),
        ("http://user@127.0.0.1:1", "'@'"),
        ("http://192.0.2.2\t@127.0.0.1", "whitespace or a control character"),
        ("http://192.0.2.2:1 @127.0.0.1:1", "whitespace or a control character"),
        ("http://127.0.0.1:1/\x00", "whitespace or a control character"),
    ],
)
def test_an_endpoint_url_that_hides_its_host_is_refused_naming_the_variable(url: str, why: str) -> None:
    with pytest.raises(ConformanceError) as refused:
        unambiguous(url, variable="AWS_ENDPOINT_URL_REKOGNITION")
    message = str(refused.value)
    assert message.startswith("AWS_ENDPOINT_URL_REKOGNITION is not a plain URL")
    assert why in message
    assert f"urllib3, which sends them, reads http://{sent_to(url)[1]}" in message


def test_a_proxy_may_carry_its_own_login_but_nothing_else() -> None:
    assert unambiguous("http://me:secret@proxy.example:3128", variable="HTTPS_PROXY", credentials=True)
    with pytest.raises(ConformanceError, match="HTTPS_PROXY is not a plain URL: it holds a backslash"):
        unambiguous(DISGUISED_PROXY, variable="HTTPS_PROXY", credentials=True)
    with pytest.raises(ConformanceError, match="more than one '@'"):
        unambiguous("http://a@b@127.0.0.1:1", variable="HTTPS_PROXY", credentials=True)


@pytest.mark.parametrize("allow_live", [False, True])
def test_preflight_url_parser_the_disguised_endpoint_is_refused_before_any_request(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, allow_live: bool
) -> None:
    # preflight_url_parser.sh: 600 images went to 192.0.2.2:18790 with no --allow-live and no preflight.
    attempts = _guarded(monkeypatch)
    monkeypatch.setenv("AWS_ENDPOINT_URL_REKOGNITION", DISGUISED_ENDPOINT)
    dataset = load_dataset(MANIFEST)
    settings = AdapterSettings(record_mode="once", cassette_dir=str(tmp_path / "c"), allow_live=allow_live)
    analyzer: Any = create("rekognition", dataset=dataset, settings=settings)
    with pytest.raises(ConformanceError) as refused, analyzer.session(precheck=False):
        analyzer.analyze(dataset.photos[0])
    message = str(refused.value)
    assert "AWS_ENDPOINT_URL_REKOGNITION is not a plain URL: it holds a backslash" in message
    assert "reads http://192.0.2.2:18790" in message  # the real host, shown
    assert attempts == []
    assert analyzer.retention_preflight is None


def test_preflight_proxy_parser_the_disguised_proxy_is_refused_before_any_request(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # preflight_proxy_parser.sh: the emulator on loopback, HTTP(S)_PROXY disguised as loopback: 600 images through it.
    attempts = _guarded(monkeypatch)
    monkeypatch.setenv("AWS_ENDPOINT_URL_REKOGNITION", "http://127.0.0.1:9")
    for name in ("HTTP_PROXY", "HTTPS_PROXY"):
        monkeypatch.setenv(name, DISGUISED_PROXY)
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.setenv(name, "")
    dataset = load_dataset(MANIFEST)
    settings = AdapterSettings(record_mode="once", cassette_dir=str(tmp_path / "c"))
    analyzer: Any = create("rekognition", dataset=dataset, settings=settings)
    with pytest.raises(ConformanceError) as refused, analyzer.session(precheck=False):
        analyzer.analyze(dataset.photos[0])
    message = str(refused.value)
    assert "_PROXY is not a plain URL: it holds a backslash" in message
    assert "reads http://192.0.2.2:18791" in message
    assert attempts == []


def test_the_cli_refuses_the_disguised_endpoint_with_a_usage_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    attempts = _guarded(monkeypatch)
    monkeypatch.setenv("AWS_ENDPOINT_URL_REKOGNITION", DISGUISED_ENDPOINT)
    code = main(
        [
            "run",
            "--dataset",
            str(MANIFEST),
            "--checks",
            "misgender_gap",
            "--analyzer",
            "rekognition",
            "--record-mode",
            "once",
            "--cassette-dir",
            str(tmp_path / "c"),
            "--report-dir",
            str(tmp_path / "r"),
        ]
    )
    out = capsys.readouterr()
    assert code != 0
    assert "AWS_ENDPOINT_URL_REKOGNITION is not a plain URL" in out.out + out.err
    assert attempts == []


# -- F7: a remote plain-HTTP host vouching for its own opt-out -------------------------------------------------------


def _opted_out_at(monkeypatch: pytest.MonkeyPatch, organizations_url: str) -> None:
    """The preflight's client made as the adapter makes it, answering optOut through botocore's Stubber."""
    from botocore.stub import Stubber

    from conformance.retention import OPT_OUT_POLICY

    monkeypatch.setenv("AWS_ENDPOINT_URL_ORGANIZATIONS", organizations_url)
    made = rekognition._organizations_client

    def stubbed() -> Any:
        client = made()
        stubber = Stubber(client)
        body = json.dumps({"services": {"default": {"opt_out_policy": {"@@assign": "optOut"}}}})
        stubber.add_response(
            "describe_effective_policy",
            {"EffectivePolicy": {"PolicyContent": body, "PolicyType": OPT_OUT_POLICY, "TargetId": "123456789012"}},
            {"PolicyType": OPT_OUT_POLICY},
        )
        stubber.activate()
        return client

    monkeypatch.setattr(rekognition, "_organizations_client", stubbed)


def test_preflight_same_host_a_remote_stand_in_cannot_vouch_for_itself(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # preflight_same_host.sh: both services at http://192.0.2.2:18795, --allow-live, no --accept-vendor-retention:
    # went live with opted_out True.
    attempts = _guarded(monkeypatch)
    monkeypatch.setenv("AWS_ENDPOINT_URL_REKOGNITION", "http://192.0.2.2:18795")
    _opted_out_at(monkeypatch, "http://192.0.2.2:18795")
    settings = AdapterSettings(record_mode="once", cassette_dir=str(tmp_path / "c"), allow_live=True)
    analyzer: Any = create("rekognition", dataset=load_dataset(MANIFEST), settings=settings)
    with pytest.raises(VendorRetentionRefused) as refused, analyzer.session():
        pass
    message = str(refused.value)
    assert "http://192.0.2.2:18795 (neither AWS's endpoint nor loopback) is neither AWS's own endpoint over TLS" in (
        message
    )
    assert "a remote host's word proves nothing" in message
    assert "--accept-vendor-retention" in message
    assert attempts == []


def test_a_remote_stand_in_with_accepted_retention_records_the_opt_out_as_unknown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _guarded(monkeypatch)
    monkeypatch.setenv("AWS_ENDPOINT_URL_REKOGNITION", "http://192.0.2.5:4566")
    _opted_out_at(monkeypatch, "http://192.0.2.5:4566")
    settings = AdapterSettings(
        record_mode="once", cassette_dir=str(tmp_path / "c"), allow_live=True, accept_vendor_retention=True
    )
    analyzer: Any = create("rekognition", dataset=load_dataset(MANIFEST), settings=settings)
    with analyzer.session():
        pass
    record = analyzer.describe()["retention_preflight"]
    assert record["opted_out"] is None
    assert record["accepted_retention"] is True


@pytest.mark.parametrize(
    ("source", "target", "counts"),
    [
        # The kit's emulator of both services on this machine: its answer is about itself.
        (Source("http://127.0.0.1:4566", "loopback"), Source("http://127.0.0.1:4566", "loopback"), True),
        # Loopback both, but a remote proxy on the way: the proxy's machine answers both.
        (
            Source("http://127.0.0.1:4566", "loopback", "http://192.0.2.9:3128"),
            Source("http://127.0.0.1:4566", "loopback", "http://192.0.2.9:3128"),
            False,
        ),
        (Source("http://192.0.2.5:4566", "other"), Source("http://192.0.2.5:4566", "other"), False),
        (Source("https://organizations.example.net", "other"), Source("https://x.example.net", "other"), False),
    ],
)
def test_only_a_stand_in_on_this_machine_answers_for_itself(source: Source, target: Source, counts: bool) -> None:
    from conformance.retention import OptOut, counted

    state = counted(OptOut(True, "opts out"), source, target)
    assert (state.opted_out is True) is counts
