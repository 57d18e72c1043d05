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


# -- F2: sequential runs stopping on a "not applicable" of the photos sent so far ---------------------------------


def _consistency_data(out: Path, salt: str) -> Path:
    """seq_consistency_na.py's data: cis and trans 300 people, 10 cis / 15 trans with 3 photos (trans ones labelled
    Male, Male, Female), trans single photos misgendered. Same images, ids and salt, so the same look order."""
    from PIL import Image

    (out / "images").mkdir(parents=True, exist_ok=True)
    rows, preds, n = [], [], 0
    for g, (grp, multi) in enumerate((("cis", 10), ("trans", 15))):
        for p in range(300):
            k = 3 if p < multi else 1
            for j in range(k):
                n += 1
                name = f"images/{grp}{p:03d}_{j}.png"
                Image.new("RGB", (16, 16), (n % 256, n // 256, g * 100 + j)).save(out / name)
                rows.append(f"{name},{salt}{grp}{p:03d},woman,{'no' if grp == 'cis' else 'yes'}")
                label = "Female" if grp == "cis" else ("Male" if (k == 1 or j < 2) else "Female")
                preds.append(
                    {"photo": name, "faces": [{"gender": label, "confidence": 90.0, "box": [0.1, 0.1, 0.5, 0.5]}]}
                )
    return _write(out, "photo,subject,gender_identity,trans", rows, preds, abstains=False)


def _nonbinary_data(out: Path, salt: str) -> Path:
    """seq_groupby_nonbinary.py's data: sites a and b, 200 people each with one photo, 6 nonbinary people a site
    always given a binary label; site b's women and men misgendered; the vocabulary can abstain."""
    from PIL import Image

    (out / "images").mkdir(parents=True, exist_ok=True)
    rows, preds, n = [], [], 0
    for site in ("a", "b"):
        for p in range(200):
            n += 1
            ident = "nonbinary" if p < 6 else ("woman" if p % 2 else "man")
            name = f"images/{site}{p:03d}.png"
            Image.new("RGB", (16, 16), (n % 256, n // 256, 7)).save(out / name)
            rows.append(f"{name},{salt}{site}{p:03d},{ident},no,{site}")
            if ident == "nonbinary":
                label = "Male"
            elif site == "b":
                label = "Female" if ident == "man" else "Male"
            else:
                label = "Male" if ident == "man" else "Female"
            preds.append({"photo": name, "faces": [{"gender": label, "confidence": 90.0, "box": [0.1, 0.1, 0.5, 0.5]}]})
    return _write(out, "photo,subject,gender_identity,trans,site", rows, preds, abstains=True)


def _write(out: Path, header: str, rows: list[str], preds: list[dict[str, Any]], *, abstains: bool) -> Path:
    (out / "manifest.csv").write_text(header + "\n" + "\n".join(rows) + "\n")
    head = {"analyzer": "rt17c", "version": "1", "vocabulary": ["Male", "Female"], "simulated": True}
    if abstains:
        head["abstains"] = True
    lines = [json.dumps(head), *(json.dumps(p) for p in preds)]
    (out / "predictions.jsonl").write_text("\n".join(lines) + "\n")
    return out


def _run(data: Path, out: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    code = main(
        [
            "run",
            "--dataset",
            str(data / "manifest.csv"),
            "--analyzer",
            f"predictions:{data / 'predictions.jsonl'}",
            *extra,
            "--report-dir",
            str(out),
        ]
    )
    return code, json.loads((out / "report.json").read_text())


def _verdicts(report: dict[str, Any]) -> dict[str, str]:
    return {c["id"]: c["verdict"] for c in report["checks"]}


@pytest.fixture(scope="module")
def consistency(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _consistency_data(tmp_path_factory.mktemp("spc_4"), "x4")


@pytest.fixture(scope="module")
def nonbinary(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _nonbinary_data(tmp_path_factory.mktemp("nb_s19"), "s19")


def test_seq_na_settled_same_person_consistency_is_not_settled_by_the_photos_sent_so_far(
    consistency: Path, tmp_path: Path
) -> None:
    # Before: "124 of 650 photos sent in 1 of 5 looks", NOT APPLICABLE same_person_consistency cis (10 cis people
    # have 3 photos); the full run fails it (+0.667 [0.248, 0.882]).
    checks = ("--checks", "misgender_gap,same_person_consistency")
    _, full = _run(consistency, tmp_path / "full", *checks)
    _, seq = _run(consistency, tmp_path / "seq", *checks, "--sequential")
    assert _verdicts(full) == {"misgender_gap": "fail", "same_person_consistency": "fail"}
    assert _verdicts(seq)["same_person_consistency"] != "not applicable"
    assert _verdicts(seq) == _verdicts(full)


def test_seq_na_settled_nonbinary_people_under_group_by_are_not_passed_over(nonbinary: Path, tmp_path: Path) -> None:
    # Before: stopped at look 1 (80 of 400 photos) with PASS "no nonbinary people in the dataset" (12 are).
    checks = ("--group-by", "site", "--reference", "a", "--checks", "misgender_gap,nonbinary_representability")
    _, full = _run(nonbinary, tmp_path / "full", *checks)
    _, seq = _run(nonbinary, tmp_path / "seq", *checks, "--sequential")
    assert _verdicts(full) == {"misgender_gap": "fail", "nonbinary_representability": "fail"}
    assert _verdicts(seq) == _verdicts(full)
    nb = next(c for c in seq["checks"] if c["id"] == "nonbinary_representability")
    assert "no nonbinary people in the dataset" not in json.dumps(nb)


@pytest.mark.parametrize("salt", ["", "x1", "x4", "s19", "q7"])
def test_every_groups_multi_photo_and_nonbinary_people_are_in_the_first_look(tmp_path: Path, salt: str) -> None:
    # Whatever the naming: look 1 holds, in each group, ceil(n_s / 5) people of each stratum (10 cis and 15 trans
    # people with 3 photos: 2 and 3 of them; 6 nonbinary people a site: 2 a site).
    from conformance.dataset import group_labels
    from conformance.sequential import person_batches

    spc = load_dataset(_consistency_data(tmp_path / "spc", salt) / "manifest.csv")
    first = person_batches(spc, group_labels(spc, []), 5)[0]
    multi = {p.subject for p in first if sum(q.subject == p.subject for q in first) == 3}
    assert sum("cis" in s for s in multi) == 2
    assert sum("trans" in s for s in multi) == 3
    nb = load_dataset(_nonbinary_data(tmp_path / "nb", salt) / "manifest.csv")
    first = person_batches(nb, group_labels(nb, ["site"]), 5)[0]
    assert sorted(p.attributes["site"] for p in first if p.identity == "nonbinary") == ["a", "a", "b", "b"]


def test_a_not_applicable_settles_only_when_the_whole_manifest_says_it() -> None:
    from conformance.sequential import ManifestFacts, unsettled

    facts = ManifestFacts(disclosed=True, nonbinary=True, single_photo_groups=frozenset({"nonbinary"}))
    na = "not applicable"
    # nobody in the nonbinary group has two photos in the whole manifest: settled; cis has such people: not.
    assert (
        unsettled("same_person_consistency", "pass", [("trans", "cis", "pass"), ("nonbinary", "cis", na)], facts)
        is None
    )
    assert unsettled("same_person_consistency", na, [("trans", "cis", na)], facts)
    assert unsettled("nonbinary_representability", "pass", [("nonbinary", "none (absolute)", na)], facts)
    none = ManifestFacts(disclosed=False, nonbinary=False, single_photo_groups=frozenset())
    assert unsettled("nonbinary_representability", "pass", [("nonbinary", "none (absolute)", na)], none) is None
    assert unsettled("misgender_gap", na, [], none) is None
    assert unsettled("misgender_gap", na, [], facts)  # someone disclosed: the next look can speak to it
    # A group the analyzer abstained on entirely is a fact of the answers so far, never of the manifest.
    assert unsettled("misgender_gap", "pass", [("trans", "cis", na)], facts)
    assert unsettled("transformation_invariance", na, [], facts) is None
    assert unsettled("misgender_gap", "fail", [("trans", "cis", na)], facts) is None
    assert unsettled("misgender_gap", "inconclusive", [], facts)


def test_verify_notices_a_sequential_report_that_stopped_on_an_unsettled_not_applicable(
    consistency: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # A report as the old rule made it (every "not applicable" settled, looks by group only): verify re-derives
    # the looks under the rule and order in force and must not call it verified.
    from conformance import sequential

    monkeypatch.setattr(sequential, "unsettled", lambda *a, **k: None, raising=False)
    # (its own --seed: the run's context of the same options, made by an earlier test in this process, is reused)
    checks = ("--checks", "misgender_gap,same_person_consistency", "--seed", "17")
    _, report = _run(consistency, tmp_path / "old", *checks, "--sequential")
    assert report["sequential"]["looks_taken"] == 1
    monkeypatch.undo()
    capsys.readouterr()
    assert main(["verify", str(tmp_path / "old" / "report.json")]) == 1
    assert "sequential" in capsys.readouterr().out


# -- scrub_url: a recording or report names the host the requests went to ----------------------------------------


@pytest.mark.parametrize(
    ("url", "scrubbed"),
    [
        # urlsplit reads 127.0.0.1 after the last '@'; urllib3 sends to 192.0.2.2. The old scrub_url wrote
        # "http://redacted@127.0.0.1:1", the banner the red team saw.
        (DISGUISED_ENDPOINT, "http://192.0.2.2:18790/redacted"),
        (DISGUISED_PROXY, "http://192.0.2.2:18791/redacted"),
        ("http://192.0.2.2:18790/x\\@127.0.0.1:1", "http://192.0.2.2:18790/redacted"),
        ("http://127.0.0.1:1#@192.0.2.2", "http://127.0.0.1:1#redacted"),
        ("http://a@b@127.0.0.1:1", "http://redacted@127.0.0.1:1"),
        ("http://[::1]:9000/p?apikey=K", "http://[::1]:9000/p?redacted"),
    ],
)
def test_scrub_url_names_the_host_urllib3_sends_to(url: str, scrubbed: str) -> None:
    from conformance.recording.scrub import scrub_url

    assert scrub_url(url) == scrubbed
    assert sent_to(scrub_url(url))[1:] == sent_to(url)[1:]  # the host and port written are the ones sent to
    assert scrub_url(scrub_url(url)) == scrub_url(url)


# -- F8: the preflight's price and a sequential run's expected photos ---------------------------------------------


def _live_refusal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *extra: str
) -> str:
    """What ``conformance run`` says when it refuses to go live (no --allow-live) on the demo's 600 photos."""
    attempts = _guarded(monkeypatch)
    monkeypatch.setenv("AWS_ENDPOINT_URL_REKOGNITION", "https://rekognition.invalid")
    args = ["run", "--dataset", str(MANIFEST), "--checks", "misgender_gap", "--analyzer", "rekognition"]
    args += ["--record-mode", "once", "--cassette-dir", str(tmp_path / "c"), "--report-dir", str(tmp_path / "r")]
    code = main([*args, *extra])
    out = capsys.readouterr()
    assert code != 0
    assert attempts == []
    return " ".join((out.out + out.err).split())


def test_the_preflight_estimate_is_at_the_given_price_per_1000(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Before: always $0.001 an image, and conformance run had no --price-per-1000 (rc 2, unknown argument).
    said = _live_refusal(tmp_path, monkeypatch, capsys, "--price-per-1000", "4")
    # 600 photos and no transformed variant (misgender_gap only) at $4 per 1,000: $2.40.
    assert "recording would make up to 600 DetectFaces call(s)" in said
    assert "about $2.40 at $4 per 1,000 images (given with --price-per-1000)" in said


def test_the_preflight_estimate_defaults_to_conformance_plans_dated_list_price(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from conformance.planning import DEFAULT_PRICE

    said = _live_refusal(tmp_path, monkeypatch, capsys)
    assert f"about $0.60 at $1 per 1,000 images ({DEFAULT_PRICE.source})" in said
    assert "as of 2026-10-07" in said  # the date the list price was read


def test_a_sequential_preflight_says_what_it_expects_to_send(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Before: most, least and each look's photos, nothing on the photos expected (issue 17 item 4).
    # Now the photos expected on data sized by `conformance plan --sequential`, the truth at its design point.
    import re

    import numpy as np
    from scipy.stats import norm

    from conformance.sequential import look_levels

    said = _live_refusal(tmp_path, monkeypatch, capsys, "--sequential", "--price-per-1000", "2")
    assert "a sequential audit sends them in up to 5 looks" in said
    assert "look 5 600 photos ($1.20)" in said
    assert "expected: depends on the true gap" not in said
    found = re.search(
        r"expected about (\d+) photos \(\$([\d.]+)\) on data sized by `conformance plan --sequential`", said
    )
    assert found, said
    photos = int(found[1])
    assert float(found[2]) == pytest.approx(photos * 2 / 1000, abs=0.005)
    # Independently: the looks' photos as the message lists them, a Brownian motion with the drift that gives
    # 80% power to pass under the run's spending (solved by simulation here), each look's chance of stopping.
    looks = [int(n) for n in re.findall(r"look \d (\d+) photos", said)]
    rng = np.random.default_rng(7)
    levels, t = np.asarray(look_levels(0.025, 5)), np.arange(1, 6) / 5
    noise = np.cumsum(rng.standard_normal((100_000, 5)) * np.sqrt(0.2), axis=1)
    edge = norm.isf(levels)

    def outcome(drift: float) -> tuple[float, float]:
        w = (noise + drift * t) / np.sqrt(t)
        stop = (w < -edge) | (w > edge)
        first = np.where(stop.any(axis=1), stop.argmax(axis=1), 4)
        passed = (w < -edge)[np.arange(len(w)), first]
        return float(passed.mean()), float(np.mean(np.asarray(looks)[first]))

    low, high = 2.0, 5.0
    for _ in range(30):  # the drift of 80% power, by bisection
        mid = (low + high) / 2
        low, high = (mid, high) if outcome(-mid)[0] < 0.8 else (low, mid)
    assert photos == pytest.approx(outcome(-high)[1], abs=6)  # 100,000 draws: a standard error near 0.5 photos


def test_the_preflight_record_keeps_the_price_its_costs_are_at(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from itertools import accumulate

    from conformance.adapters.base import SessionPlan
    from conformance.dataset import group_labels
    from conformance.sequential import person_batches

    attempts = _guarded(monkeypatch)
    monkeypatch.setenv("AWS_ENDPOINT_URL_REKOGNITION", "https://rekognition.invalid")
    _opted_out_at(monkeypatch, "https://organizations.us-east-1.amazonaws.com")
    settings = AdapterSettings(
        record_mode="once",
        cassette_dir=str(tmp_path / "c"),
        allow_live=True,
        accept_vendor_retention=True,
        price_per_1000=4.0,
        price_source="given with --price-per-1000",
    )
    analyzer: Any = create("rekognition", dataset=load_dataset(MANIFEST), settings=settings)
    batches = person_batches(analyzer.dataset, group_labels(analyzer.dataset, ()), 5)
    looks = tuple(accumulate(len(b) for b in batches))
    with analyzer.session(SessionPlan(photos=tuple(batches[0]), looks=looks)):
        pass
    record = analyzer.describe()["retention_preflight"]
    assert record["cost"] == 2.4  # 600 photos at 4 per 1,000
    assert record["cost_min"] == round(len(batches[0]) * 4 / 1000, 2)
    assert record["price"] == "$4 per 1,000 images (given with --price-per-1000)"
    assert "expected: depends on the true gap" in record["calls_note"]
    assert attempts == []


def test_price_per_1000_is_one_option_with_conformance_plans_name_default_and_checks() -> None:
    import argparse

    from conformance.adapters.rekognition import PRICE_PER_IMAGE_USD
    from conformance.options import OPTION, OptionError
    from conformance.plan_command import add_parser
    from conformance.planning import DEFAULT_PRICE

    option = OPTION["price_per_1000"]
    assert (option.cli_flag, option.pytest_flag, option.dest) == (
        "--price-per-1000",
        "--conformance-price-per-1000",
        "conformance_price_per_1000",
    )
    assert DEFAULT_PRICE.source in option.help
    assert option.parse("2.5") == 2.5
    for bad in ("0", "-1", "nan", "inf", "x"):
        with pytest.raises(OptionError):
            option.parse(bad)
    # conformance plan's option of the same name, and the adapter's fallback at the same figure.
    sub = argparse.ArgumentParser().add_subparsers()
    add_parser(sub)
    plan = next(parser for name, parser in sub.choices.items() if name == "plan")
    assert plan.parse_args(["--price-per-1000", "3"]).price_per_1000 == 3.0
    assert DEFAULT_PRICE.per_1000 == PRICE_PER_IMAGE_USD * 1000
