"""The data-protection preflight: AWS Organizations' opt-out policy read through botocore's Stubber, no network."""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path
from typing import Any

import pytest
from botocore.stub import Stubber

from conformance import load_dataset
from conformance.adapters import rekognition
from conformance.adapters.base import AdapterSettings
from conformance.adapters.registry import create
from conformance.demo import MANIFEST
from conformance.errors import ConformanceError
from conformance.retention import OPT_OUT_POLICY, Source, VendorRetentionRefused, opt_out_state, preflight

# Where the preflight asked (read from the client, as the adapter does) and where the photos go: AWS's own.
WHERE: dict[str, Any] = {
    "source_of": rekognition._organizations_source,
    "target": Source("https://rekognition.us-east-1.amazonaws.com", "aws"),
}


@pytest.fixture(autouse=True)
def _public_trust(monkeypatch: pytest.MonkeyPatch) -> None:
    """TLS checked against botocore's own bundle: a machine's own bundle makes no endpoint AWS's own."""
    for name in ("AWS_CA_BUNDLE", "REQUESTS_CA_BUNDLE"):  # botocore reads both
        monkeypatch.delenv(name, raising=False)


def organizations() -> Any:
    import boto3

    return boto3.session.Session(
        aws_access_key_id="TESTING", aws_secret_access_key="TESTING", region_name="us-east-1"
    ).client("organizations")


def answering(content: dict[str, Any] | str) -> Any:
    client = organizations()
    stubber = Stubber(client)
    body = content if isinstance(content, str) else json.dumps(content)
    stubber.add_response(
        "describe_effective_policy",
        {"EffectivePolicy": {"PolicyContent": body, "PolicyType": OPT_OUT_POLICY, "TargetId": "123456789012"}},
        {"PolicyType": OPT_OUT_POLICY},
    )
    stubber.activate()
    return client


def refusing(code: str) -> Any:
    client = organizations()
    stubber = Stubber(client)
    stubber.add_client_error(
        "describe_effective_policy", service_error_code=code, expected_params={"PolicyType": OPT_OUT_POLICY}
    )
    stubber.activate()
    return client


@pytest.mark.parametrize(
    ("content", "opted_out"),
    [
        ({"services": {"rekognition": {"opt_out_policy": "optOut"}}}, True),
        ({"services": {"default": {"opt_out_policy": {"@@assign": "optOut"}}}}, True),
        # Rekognition's own entry wins over the default.
        ({"services": {"default": {"opt_out_policy": "optOut"}, "rekognition": {"opt_out_policy": "optIn"}}}, False),
        ({"services": {"default": {"opt_out_policy": "optIn"}}}, False),
        ({"services": {"lex": {"opt_out_policy": "optOut"}}}, False),
        ("not json", None),
    ],
)
def test_the_effective_policy_is_read(content: dict[str, Any] | str, opted_out: bool | None) -> None:
    assert opt_out_state(answering(content)).opted_out is opted_out


@pytest.mark.parametrize(
    ("code", "opted_out", "words"),
    [
        ("EffectivePolicyNotFoundException", False, "no AI services opt-out policy is in force"),
        ("AWSOrganizationsNotInUseException", False, "not in an AWS Organization"),
        ("AccessDeniedException", None, "may not call organizations:DescribeEffectivePolicy"),
        ("TooManyRequestsException", None, "the opt-out state is unknown"),
    ],
)
def test_each_refusal_is_a_state_with_its_reason(code: str, opted_out: bool | None, words: str) -> None:
    state = opt_out_state(refusing(code))
    assert state.opted_out is opted_out
    assert words in state.detail


def test_no_policy_and_no_acceptance_refuses_with_the_way_out() -> None:
    with pytest.raises(VendorRetentionRefused) as excinfo:
        preflight(
            lambda: refusing("EffectivePolicyNotFoundException"),
            **WHERE,
            accept_retention=False,
            calls=12,
            price_per_image=0.001,
        )
    message = str(excinfo.value)
    assert "--accept-vendor-retention" in message
    assert "AI services opt-out" in message
    assert "no AI services opt-out policy is in force" in message


def test_an_unknown_state_is_never_taken_as_opted_out() -> None:
    with pytest.raises(VendorRetentionRefused, match="may not call organizations"):
        preflight(
            lambda: refusing("AccessDeniedException"), **WHERE, accept_retention=False, calls=1, price_per_image=0.001
        )


def test_acceptance_and_opt_out_are_recorded() -> None:
    accepted = preflight(
        lambda: refusing("AccessDeniedException"), **WHERE, accept_retention=True, calls=600, price_per_image=0.001
    ).to_json()
    assert accepted["accepted_retention"] is True
    assert accepted["opted_out"] is None
    assert accepted["cost"] == 0.6
    protected = preflight(
        lambda: answering({"services": {"rekognition": {"opt_out_policy": "optOut"}}}),
        **WHERE,
        accept_retention=False,
        calls=600,
        price_per_image=0.001,
    ).to_json()
    assert protected["opted_out"] is True
    assert protected["accepted_retention"] is False


@pytest.fixture
def live_adapter(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, list[Any]]:
    """A rekognition adapter about to record against a non-loopback endpoint, every connection refused and listed."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_REKOGNITION", "https://rekognition.invalid")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "TESTING")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "TESTING")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    attempts: list[Any] = []

    def refuse(self: socket.socket, address: Any) -> None:
        attempts.append(address)
        raise OSError(f"test guard: network blocked ({address})")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    dataset = load_dataset(MANIFEST)
    settings = AdapterSettings(record_mode="once", cassette_dir=str(tmp_path / "cassettes"), allow_live=True)
    return create("rekognition", dataset=dataset, settings=settings), attempts


def test_the_adapter_refuses_an_unprotected_live_run_before_any_call(
    live_adapter: tuple[Any, list[Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    analyzer, attempts = live_adapter
    monkeypatch.setattr(rekognition, "_organizations_client", lambda: refusing("EffectivePolicyNotFoundException"))
    with pytest.raises(VendorRetentionRefused, match="--accept-vendor-retention"), analyzer.session():
        pass
    assert attempts == []


def test_the_adapter_records_the_opt_out_it_saw(
    live_adapter: tuple[Any, list[Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    analyzer, attempts = live_adapter
    monkeypatch.setattr(
        rekognition, "_organizations_client", lambda: answering({"services": {"default": {"opt_out_policy": "optOut"}}})
    )
    # A sequential run's first look, as conformance.run.context sets it: its own photos, and every look's size.
    from itertools import accumulate

    from conformance.adapters.base import SessionPlan
    from conformance.dataset import group_labels
    from conformance.sequential import person_batches

    batches = person_batches(analyzer.dataset, group_labels(analyzer.dataset, ()), 5)
    looks = tuple(accumulate(len(b) for b in batches))
    with analyzer.session(SessionPlan(photos=tuple(batches[0]), looks=looks)):
        pass
    record = analyzer.describe()["retention_preflight"]
    assert record["opted_out"] is True
    # At most every photo of the manifest (none recorded yet), at least the first look's: it recorded the
    # first look as the run's calls.
    assert record["calls"] == record["calls_max"] == 600
    assert record["cost"] == 0.6
    assert record["calls_min"] == len(batches[0]) < 600
    assert record["cost_min"] == round(len(batches[0]) * 0.001, 2)
    assert record["calls_by_look"] == list(looks)
    assert record["calls_by_look"][-1] == 600
    assert record["calls_made"] == 0  # the session sent nothing
    assert "look 5 600 photos ($0.60)" in record["calls_note"]
    assert attempts == []


def _guarded(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every connection and name lookup refused and listed: a listed attempt is a request that left the process."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_REKOGNITION", "https://rekognition.invalid")
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


@pytest.mark.parametrize("mode", ["once", "new_episodes"])
@pytest.mark.parametrize("allow_live", [True, False])
def test_a_session_without_precheck_still_refuses_before_the_first_live_call(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str, allow_live: bool
) -> None:
    # precheck=False plans no calls (the documented way for compare in one's own tests); the guard must
    # still hold at the first request that would leave for a non-loopback endpoint.
    attempts = _guarded(monkeypatch)
    monkeypatch.setattr(rekognition, "_organizations_client", lambda: refusing("EffectivePolicyNotFoundException"))
    dataset = load_dataset(MANIFEST)
    settings = AdapterSettings(record_mode=mode, cassette_dir=str(tmp_path / "cassettes"), allow_live=allow_live)
    analyzer: Any = create("rekognition", dataset=dataset, settings=settings)
    refusal = VendorRetentionRefused if allow_live else ConformanceError
    words = "--accept-vendor-retention" if allow_live else "--allow-live"
    with analyzer.session(precheck=False), pytest.raises(refusal, match=words):
        analyzer.analyze(dataset.photos[0])
    with analyzer.session(precheck=False), pytest.raises(refusal, match=words):
        analyzer.compare(dataset.photos[0], dataset.photos[1])
    assert attempts == []
    assert analyzer.retention_preflight is None


def test_a_session_without_precheck_goes_live_once_the_opt_out_is_seen(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    attempts = _guarded(monkeypatch)
    monkeypatch.setattr(
        rekognition, "_organizations_client", lambda: answering({"services": {"default": {"opt_out_policy": "optOut"}}})
    )
    dataset = load_dataset(MANIFEST)
    settings = AdapterSettings(record_mode="once", cassette_dir=str(tmp_path / "cassettes"), allow_live=True)
    analyzer: Any = create("rekognition", dataset=dataset, settings=settings)
    with analyzer.session(precheck=False), pytest.raises(ConformanceError, match="cannot reach"):
        analyzer.analyze(dataset.photos[0])
    assert attempts, "the request was let through to the (guarded) network"
    record = analyzer.describe()["retention_preflight"]
    assert record["opted_out"] is True
    assert "precheck=False" in record["calls_note"]
    assert record["calls"] is None  # nothing planned
    assert record["calls_made"] == 1  # the one let through


def test_a_recorded_answer_needs_no_preflight(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The demo's recording answers the first photo: replayed below the hook, nothing leaves, nothing to refuse.
    import shutil

    from conformance.demo import CASSETTES

    attempts = _guarded(monkeypatch)
    shutil.copytree(Path(CASSETTES) / "demo", tmp_path / "cassettes" / "demo")
    dataset = load_dataset(MANIFEST)
    settings = AdapterSettings(record_mode="new_episodes", cassette_dir=str(tmp_path / "cassettes"))
    analyzer: Any = create("rekognition", dataset=dataset, settings=settings)
    with analyzer.session(precheck=False):
        observation = analyzer.analyze(dataset.photos[0])
    assert observation.outcome == "analysed"
    assert attempts == []
    assert analyzer.retention_preflight is None


@pytest.mark.parametrize(
    ("state", "accepted", "words"),
    [
        ({"services": {"default": {"opt_out_policy": "optOut"}}}, False, "opted out (the effective AI services"),
        ("EffectivePolicyNotFoundException", True, "NOT opted out (no AI services opt-out policy is in force"),
    ],
)
def test_the_markdown_and_html_reports_show_the_preflight(
    state: dict[str, Any] | str, accepted: bool, words: str
) -> None:
    # Only report.json held it (analyzer.retention_preflight): a reader of report.md or report.html never saw it.
    from html.parser import HTMLParser

    from conformance.reporting import build_report
    from conformance.reporting.html import render_html
    from conformance.reporting.markdown import render_markdown

    client = answering(state) if isinstance(state, dict) else refusing(state)
    record = preflight(
        lambda: client, **WHERE, accept_retention=accepted, calls=600, calls_min=115, price_per_image=0.001
    ).to_json()
    record["calls_made"] = 243
    context = {
        "analyzer": {"name": "Amazon Rekognition DetectFaces", "adapter": "rekognition", "retention_preflight": record},
        "dataset": {"name": "demo", "photos": 600, "subjects": 150},
    }
    report = build_report([], context=context)
    expected = [words, "calls planned: 115 to 600 (about USD 0.60 at most)", "243 made", "Terms: Amazon may store"]
    if accepted:
        expected.append("went live with --accept-vendor-retention: the vendor may keep and use the photos")
    [line] = [line for line in render_markdown(report).splitlines() if line.startswith("- Data protection: ")]
    for text in expected:
        assert text in line

    class Text(HTMLParser):
        def __init__(self) -> None:
            super().__init__(convert_charrefs=True)
            self.text: list[str] = []

        def handle_data(self, data: str) -> None:
            self.text.append(data)

    page = Text()
    page.feed(render_html(report))
    shown = " ".join(page.text)
    assert "data protection" in shown
    for text in expected:
        assert text in shown


def test_a_report_with_a_preflight_verifies_and_says_what_is_not_re_derived(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A live recording's report holds the preflight; its offline replay cannot: it never verified.
    from conformance.cli import main

    assert main(["run", "--checks", "nonbinary_representability", "--report-dir", str(tmp_path)]) == 1
    report = json.loads((tmp_path / "report.json").read_text())
    report["analyzer"]["retention_preflight"] = preflight(
        lambda: answering({"services": {"rekognition": {"opt_out_policy": "optOut"}}}),
        **WHERE,
        accept_retention=False,
        calls=600,
        price_per_image=0.001,
    ).to_json()
    (tmp_path / "report.json").write_text(json.dumps(report))
    capsys.readouterr()
    assert main(["verify", str(tmp_path / "report.json")]) == 0, capsys.readouterr().out
    assert "the data-protection preflight (analyzer.retention_preflight) is what the live run saw" in (
        capsys.readouterr().out
    )


# -- a request is live when it leaves this machine by any route (red team rt17b, preflight_proxy_relay.sh A) --


def _proxied(monkeypatch: pytest.MonkeyPatch, no_proxy: str) -> list[Any]:
    """A loopback endpoint, HTTP(S)_PROXY on a non-loopback host; every connection refused and listed."""
    attempts = _guarded(monkeypatch)
    monkeypatch.setenv("AWS_ENDPOINT_URL_REKOGNITION", "http://127.0.0.1:9")
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.setenv(name, "http://192.0.2.2:18777")
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.setenv(name, no_proxy)
    return attempts


@pytest.mark.parametrize("precheck", [True, False])
def test_a_loopback_endpoint_behind_a_non_loopback_proxy_is_a_live_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, precheck: bool
) -> None:
    # The gate asked only whether the endpoint was loopback: every photo left through the proxy without
    # --allow-live and without the preflight.
    attempts = _proxied(monkeypatch, "")
    dataset = load_dataset(MANIFEST)
    settings = AdapterSettings(record_mode="once", cassette_dir=str(tmp_path / "cassettes"))
    analyzer: Any = create("rekognition", dataset=dataset, settings=settings)
    with pytest.raises(ConformanceError, match="--allow-live") as refused, analyzer.session(precheck=precheck):
        analyzer.analyze(dataset.photos[0])
    assert "http://127.0.0.1:9 through the proxy http://192.0.2.2:18777" in str(refused.value)
    assert attempts == []
    assert analyzer.retention_preflight is None


def test_through_a_proxy_the_preflight_runs_before_the_first_request(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    attempts = _proxied(monkeypatch, "")
    monkeypatch.setattr(rekognition, "_organizations_client", lambda: refusing("EffectivePolicyNotFoundException"))
    dataset = load_dataset(MANIFEST)
    settings = AdapterSettings(record_mode="once", cassette_dir=str(tmp_path / "cassettes"), allow_live=True)
    analyzer: Any = create("rekognition", dataset=dataset, settings=settings)
    with pytest.raises(VendorRetentionRefused, match="--accept-vendor-retention"), analyzer.session():
        pass
    assert attempts == []


def test_no_proxy_for_the_endpoint_keeps_it_local(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # NO_PROXY names the endpoint: botocore sends to it directly, on this machine; nothing to gate.
    attempts = _proxied(monkeypatch, "127.0.0.1")
    dataset = load_dataset(MANIFEST)
    settings = AdapterSettings(record_mode="once", cassette_dir=str(tmp_path / "cassettes"))
    analyzer: Any = create("rekognition", dataset=dataset, settings=settings)
    with analyzer.session(precheck=False), pytest.raises(ConformanceError, match="cannot reach"):
        analyzer.analyze(dataset.photos[0])
    assert attempts
    assert all("127.0.0.1" in str(a) for a in attempts)  # straight to the endpoint, never the proxy


def test_a_proxy_set_in_the_clients_config_is_a_route_out_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Not the environment: a botocore Config's proxies, as a user's own client factory could set them.
    from botocore.config import Config

    attempts = _guarded(monkeypatch)
    monkeypatch.setenv("AWS_ENDPOINT_URL_REKOGNITION", "http://127.0.0.1:9")
    made = rekognition.RekognitionAnalyzer._make_client

    def with_proxy(self: Any, replay_only: bool, boto3: Any) -> Any:
        client = made(self, replay_only, boto3)
        if replay_only:
            return client
        return boto3.session.Session().client(
            "rekognition", region_name="us-east-1", config=Config(proxies={"http": "192.0.2.7:3128"})
        )

    monkeypatch.setattr(rekognition.RekognitionAnalyzer, "_make_client", with_proxy)
    dataset = load_dataset(MANIFEST)
    settings = AdapterSettings(record_mode="once", cassette_dir=str(tmp_path / "cassettes"))
    analyzer: Any = create("rekognition", dataset=dataset, settings=settings)
    with (
        pytest.raises(ConformanceError, match=re.escape("through the proxy http://192.0.2.7:3128")),
        analyzer.session(),
    ):
        pass
    assert attempts == []


def test_a_loopback_endpoints_label_says_it_could_be_a_relay() -> None:
    # Variant B of preflight_proxy_relay.sh: a loopback relay forwarding elsewhere cannot be seen from the
    # client; the report must not call such an endpoint merely a local stand-in.
    from conformance.report import AnalyzerInfo, endpoint_banners

    analyzer = AnalyzerInfo(
        {
            "endpoint_class": "loopback",
            "recording_sessions": [{"endpoint_class": "loopback", "endpoint": "http://127.0.0.1:18779"}],
        }
    )
    [banner] = endpoint_banners(analyzer)
    assert "http://127.0.0.1:18779" in banner.text
    assert "could also be a relay" in banner.text
    assert "did not gate those calls as live" in banner.text


# -- where the opt-out was read (red team rt17b, preflight_spoofed_optout.sh) -----------------------------------


def _opted_out_at(monkeypatch: pytest.MonkeyPatch, organizations_url: str | None) -> None:
    """The preflight's client made as the adapter makes it (boto3's configuration), answering optOut."""
    if organizations_url is None:
        monkeypatch.delenv("AWS_ENDPOINT_URL_ORGANIZATIONS", raising=False)
    else:
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


def _live(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, endpoint: str, *, accept: bool = False
) -> tuple[Any, list[Any]]:
    attempts = _guarded(monkeypatch)
    monkeypatch.setenv("AWS_ENDPOINT_URL_REKOGNITION", endpoint)
    settings = AdapterSettings(
        record_mode="once", cassette_dir=str(tmp_path / "cassettes"), allow_live=True, accept_vendor_retention=accept
    )
    return create("rekognition", dataset=load_dataset(MANIFEST), settings=settings), attempts


def test_an_opt_out_from_a_stand_in_organizations_endpoint_is_not_taken(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    analyzer, attempts = _live(tmp_path, monkeypatch, "http://192.0.2.2:18788")
    _opted_out_at(monkeypatch, "http://127.0.0.1:18789")
    with pytest.raises(VendorRetentionRefused) as refused, analyzer.session():
        pass
    message = str(refused.value)
    assert "http://127.0.0.1:18789 (a loopback stand-in, not AWS's endpoint)" in message
    assert "not taken as opted out for calls to http://192.0.2.2:18788" in message
    assert "--accept-vendor-retention" in message
    assert attempts == []


def test_accepted_retention_records_where_the_stand_ins_answer_came_from(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    analyzer, _ = _live(tmp_path, monkeypatch, "http://192.0.2.2:18788", accept=True)
    _opted_out_at(monkeypatch, "http://127.0.0.1:18789")
    with analyzer.session():
        pass
    record = analyzer.describe()["retention_preflight"]
    assert record["opted_out"] is None  # answered optOut, but by a stand-in: not counted
    assert record["opt_out_source"] == {"endpoint": "http://127.0.0.1:18789", "class": "loopback"}
    assert record["calls_to"] == {"endpoint": "http://192.0.2.2:18788", "class": "other"}
    assert record["accepted_retention"] is True


def test_aws_own_organizations_endpoint_is_recorded_as_such(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    analyzer, _ = _live(tmp_path, monkeypatch, "https://rekognition.us-east-1.amazonaws.com")
    _opted_out_at(monkeypatch, None)
    with analyzer.session():
        pass
    record = analyzer.describe()["retention_preflight"]
    assert record["opted_out"] is True
    assert record["opt_out_source"] == {"endpoint": "https://organizations.us-east-1.amazonaws.com", "class": "aws"}
    assert record["calls_to"]["class"] == "aws"


@pytest.mark.parametrize(
    ("rekognition_url", "organizations_url", "opted_out"),
    [
        # One stand-in serving both APIs on a remote host over plain HTTP: a host cannot vouch for its own opt-out (red team 17c, F7).
        ("http://192.0.2.5:4566", "http://192.0.2.5:4566", None),
        # A stand-in's answer about AWS's service, or about another host's: not taken.
        ("https://rekognition.us-east-1.amazonaws.com", "http://127.0.0.1:18789", None),
        ("http://192.0.2.5:4566", "http://192.0.2.6:4566", None),
        ("https://rekognition.us-east-1.amazonaws.com", "https://organizations.example.net", None),
    ],
)
def test_only_the_same_stand_in_may_answer_for_itself(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    rekognition_url: str,
    organizations_url: str,
    opted_out: bool | None,
) -> None:
    analyzer, _ = _live(tmp_path, monkeypatch, rekognition_url, accept=True)
    _opted_out_at(monkeypatch, organizations_url)
    with analyzer.session():
        pass
    assert analyzer.describe()["retention_preflight"]["opted_out"] is opted_out


def test_a_resumed_sequential_runs_figures_count_only_the_photos_not_yet_recorded() -> None:
    """rt17d F4 (preflight_live.sh case D): 230 of the demo's 249 first-two-look photos recorded, then resumed.

    At most 600 - 230 = 370 calls; the old record said by look [115, 249, 366, 486, 600] and 438 expected (the
    whole plan's photos, recorded ones among them), more than the most. By look now: 0, 19, 136, 256, 370
    (each look's photos less the 230 recorded, which are the first looks' in their order); expected 438 - 230.
    """
    record = preflight(
        lambda: refusing("AccessDeniedException"),
        **WHERE,
        accept_retention=True,
        calls=370,
        calls_min=19,
        calls_by_look=(115, 249, 366, 486, 600),
        calls_expected=438,
        price_per_image=0.001,
    ).to_json()
    assert record["calls_by_look"] == [0, 19, 136, 256, 370]
    assert record["calls_expected"] == 208
    assert record["calls_min"] <= record["calls_expected"] <= record["calls_max"] == 370
    fresh = preflight(  # nothing recorded yet: the plan's own figures, unchanged
        lambda: refusing("AccessDeniedException"),
        **WHERE,
        accept_retention=True,
        calls=600,
        calls_min=115,
        calls_by_look=(115, 249, 366, 486, 600),
        calls_expected=438,
        price_per_image=0.001,
    ).to_json()
    assert fresh["calls_by_look"] == [115, 249, 366, 486, 600]
    assert fresh["calls_expected"] == 438
