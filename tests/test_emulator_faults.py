"""The emulator's network faults (resets, slow answers) and rate limit, seen from real boto3 clients.

Every client makes one attempt per call (``total_max_attempts`` 1: in botocore's ``retries``
config ``max_attempts`` counts *retries*, so ``max_attempts: 1`` would send each call twice), so
each fault reaches the test as the exception a live run would meet. The dataset is two 8x8 PNGs
(the ``make_manifest`` fixture) with one face each; the expected outcomes are worked out here from
the documented contract (one draw of ``random.Random(seed)`` per call, bands in the order
throttle, error, reset, slow; a token bucket of ``burst`` tokens refilled at ``max_rate``).
"""

from __future__ import annotations

import errno
import json
import math
import random
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from conformance import Dataset, load_dataset
from conformance.adapters.predictions import PredictionsAnalyzer
from conformance.emulators import EmulatorError, EmulatorServer, Faults, RekognitionEmulator, main, serve

MakeManifest = Callable[..., Path]  # the conftest fixture
Client = Any  # boto3 clients are generated at run time and carry no static type
Start = Callable[[Faults], EmulatorServer]

ROWS = [
    {"photo": "img/one.png", "subject": "s1", "gender_identity": "woman", "trans": "no"},
    {"photo": "img/two.png", "subject": "s2", "gender_identity": "man", "trans": "yes"},
]
LINES: list[dict[str, Any]] = [
    {"analyzer": "emulator-faults-test", "version": "1", "vocabulary": ["Male", "Female"]},
    {"photo": "img/one.png", "faces": [{"gender": "Female", "confidence": 97.5, "box": [0.1, 0.2, 0.3, 0.4]}]},
    {"photo": "img/two.png", "faces": [{"gender": "Male", "confidence": 88.25, "box": [0.05, 0.1, 0.2, 0.3]}]},
]


@pytest.fixture
def files(make_manifest: MakeManifest, tmp_path: Path) -> tuple[Path, Path]:
    """The manifest and the predictions file."""
    predictions = tmp_path / "predictions.jsonl"
    predictions.write_text("".join(json.dumps(line) + "\n" for line in LINES), encoding="utf-8")
    return make_manifest(ROWS), predictions


@pytest.fixture
def dataset(files: tuple[Path, Path]) -> Dataset:
    return load_dataset(files[0])


@pytest.fixture
def make_emulator(dataset: Dataset, files: tuple[Path, Path]) -> Callable[[Faults], RekognitionEmulator]:
    def make(faults: Faults) -> RekognitionEmulator:
        return RekognitionEmulator(dataset, PredictionsAnalyzer(files[1], dataset=dataset), faults=faults)

    return make


@pytest.fixture
def start(make_emulator: Callable[[Faults], RekognitionEmulator]) -> Iterator[Start]:
    """Serve an emulator with ``faults`` on 127.0.0.1; every one is closed after the test."""
    servers: list[EmulatorServer] = []

    def start_one(faults: Faults) -> EmulatorServer:
        servers.append(serve(make_emulator(faults), "127.0.0.1"))
        return servers[-1]

    yield start_one
    for server in servers:
        server.close()


@pytest.fixture
def image(dataset: Dataset) -> bytes:
    return dataset.photo("img/one.png").path.read_bytes()


def client_for(url: str, read_timeout: float = 10.0) -> Client:
    import boto3
    import botocore.config

    assert url.startswith("http://127.0.0.1:")  # never anything but loopback
    return boto3.client(
        "rekognition",
        region_name="us-east-1",
        endpoint_url=url,
        aws_access_key_id="EMULATOR",
        aws_secret_access_key="EMULATOR",
        config=botocore.config.Config(
            retries={"total_max_attempts": 1, "mode": "standard"}, read_timeout=read_timeout, connect_timeout=5
        ),
    )


def detect(client: Client, data: bytes) -> dict[str, Any]:
    response: dict[str, Any] = client.detect_faces(Image={"Bytes": data}, Attributes=["GENDER"])
    return response


def outcome(client: Client, data: bytes) -> str:
    """What one call came to: ``served``, an error code, or the botocore exception's class name."""
    from botocore.exceptions import ClientError, HTTPClientError

    try:
        response = detect(client, data)
    except ClientError as exc:
        return f"{exc.response['Error']['Code']} {exc.response['ResponseMetadata']['HTTPStatusCode']}"
    except HTTPClientError as exc:
        return type(exc).__name__
    assert response["FaceDetails"][0]["Gender"]["Value"] == "Female"
    return "served"


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen within {timeout} s")
        time.sleep(0.005)


def assert_identity(server: EmulatorServer) -> None:
    stats = server.emulator.stats
    assert stats.calls == stats.served + stats.throttled + stats.errored + stats.failed + stats.resets + stats.paged


# -- resets ---------------------------------------------------------------------------------------


def test_reset_rate_one_resets_every_connection_with_no_response(start: Start, image: bytes) -> None:
    from botocore.exceptions import ConnectionClosedError

    server = start(Faults(reset_rate=1.0))
    client = client_for(server.url)
    for _ in range(3):
        with pytest.raises(
            ConnectionClosedError, match="Connection was closed before we received a valid response"
        ) as excinfo:
            detect(client, image)
        # A real RST (SO_LINGER 0), not an orderly close: under botocore's error, urllib3 saw ECONNRESET
        # (an orderly close shows as http.client's RemoteDisconnected, which has no errno).
        cause = excinfo.value.kwargs["error"]
        assert [getattr(arg, "errno", None) for arg in cause.args][1:] == [errno.ECONNRESET], repr(cause)
    stats = server.emulator.stats
    assert (stats.calls, stats.resets, stats.served) == (3, 3, 0)
    assert_identity(server)


def test_without_sockets_a_reset_raises_connection_reset_error(
    make_emulator: Callable[[Faults], RekognitionEmulator], image: bytes
) -> None:
    import base64

    emulator = make_emulator(Faults(reset_rate=1.0, seed=5))
    body = json.dumps({"Image": {"Bytes": base64.b64encode(image).decode()}}).encode()
    with pytest.raises(ConnectionResetError, match=r"emulated fault: connection reset \(.*reset-rate 1.0, seed 5\)"):
        emulator.handle("RekognitionService.DetectFaces", body)
    assert emulator.stats.resets == 1


def test_all_four_shares_follow_the_seeded_draws_call_by_call(start: Start, image: bytes) -> None:
    slow_seconds, calls, seed = 0.2, 25, 20261121
    server = start(
        Faults(throttle_rate=0.2, error_rate=0.2, reset_rate=0.2, slow_rate=0.2, slow_seconds=slow_seconds, seed=seed)
    )
    client = client_for(server.url)
    # The contract, worked out independently: bands [0, .2) throttle, [.2, .4) error, [.4, .6) reset,
    # [.6, .8) slow (answered, late), [.8, 1) served; throttles alternate their two codes.
    draws = random.Random(seed)
    expected, throttles, slow_calls = [], 0, []
    for index in range(calls):
        draw = draws.random()
        if draw < 0.2:
            expected.append(
                "ThrottlingException 400" if throttles % 2 == 0 else "ProvisionedThroughputExceededException 400"
            )
            throttles += 1
        elif draw < 0.4:
            expected.append("InternalServerError 500")
        elif draw < 0.6:
            expected.append("ConnectionClosedError")
        else:
            expected.append("served")
            if draw < 0.8:
                slow_calls.append(index)
    seen, took = [], []
    for _ in range(calls):
        began = time.monotonic()
        seen.append(outcome(client, image))
        took.append(time.monotonic() - began)
    assert seen == expected
    assert all(took[index] >= slow_seconds for index in slow_calls)
    # Every band came up at least once with this seed, so the test covers each of them.
    assert {"ThrottlingException 400", "InternalServerError 500", "ConnectionClosedError"} <= set(seen)
    assert slow_calls
    stats = server.emulator.stats
    assert (stats.calls, stats.resets, stats.slowed, stats.served) == (
        calls,
        expected.count("ConnectionClosedError"),
        len(slow_calls),
        expected.count("served"),
    )
    assert stats.rate_throttled == 0
    assert_identity(server)


# -- slow answers ---------------------------------------------------------------------------------


def test_a_slow_answer_times_out_a_client_with_a_shorter_read_timeout(start: Start, image: bytes) -> None:
    from botocore.exceptions import ReadTimeoutError

    server = start(Faults(slow_rate=1.0, slow_seconds=5.0))
    client = client_for(server.url, read_timeout=0.5)
    began = time.monotonic()
    with pytest.raises(ReadTimeoutError):
        detect(client, image)
    took = time.monotonic() - began
    assert 0.5 <= took < 5.0
    stats = server.emulator.stats
    # Counted by the answer it will have (served), and as slowed.
    assert (stats.calls, stats.slowed, stats.served) == (1, 1, 1)


def test_a_slow_answer_arrives_late_within_a_longer_read_timeout(start: Start, image: bytes) -> None:
    server = start(Faults(slow_rate=1.0, slow_seconds=1.0))
    client = client_for(server.url, read_timeout=10.0)
    began = time.monotonic()
    assert outcome(client, image) == "served"
    assert time.monotonic() - began >= 1.0


def first_draws_slow_then_not(rate: float) -> int:
    """A seed whose first draw falls in the slow band [0, rate) and whose second does not."""
    for seed in range(1000):
        draws = random.Random(seed)
        if draws.random() < rate <= draws.random():
            return seed
    raise AssertionError("no such seed below 1000")


def test_a_slow_answer_closes_its_connection_so_the_next_call_is_not_lost(
    start: Start, image: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    import base64
    import http.client
    import socketserver

    finish = socketserver.StreamRequestHandler.finish

    def late_finish(handler: socketserver.StreamRequestHandler) -> None:
        time.sleep(0.5)  # as under CPU load: the handler's thread closes the socket well after its answer
        finish(handler)

    monkeypatch.setattr(socketserver.StreamRequestHandler, "finish", late_finish)
    server = start(Faults(slow_rate=1.0, slow_seconds=0.05))
    # A held answer says its connection closes (RFC 9112 9.6), so no client keeps it...
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    body = json.dumps({"Image": {"Bytes": base64.b64encode(image).decode()}})
    connection.request("POST", "/", body=body, headers={"X-Amz-Target": "RekognitionService.DetectFaces"})
    response = connection.getresponse()
    response.read()
    assert (response.status, response.getheader("Connection"), response.will_close) == (200, "close", True)
    connection.close()
    # ...so botocore's call after a slow one reaches the server on a new connection, not the closing one.
    client = client_for(server.url)
    assert [outcome(client, image) for _ in range(3)] == ["served"] * 3
    assert (server.emulator.stats.calls, server.emulator.stats.slowed) == (4, 4)


def test_a_held_call_does_not_hold_up_other_calls(start: Start, image: bytes) -> None:
    slow_seconds = 3.0
    server = start(Faults(slow_rate=0.5, slow_seconds=slow_seconds, seed=first_draws_slow_then_not(0.5)))
    slow_client, fast_client = client_for(server.url), client_for(server.url)
    with ThreadPoolExecutor(max_workers=1) as pool:
        began = time.monotonic()
        held = pool.submit(outcome, slow_client, image)
        wait_until(lambda: server.emulator.stats.slowed == 1, "the first call being held")
        assert outcome(fast_client, image) == "served"
        # The second call was answered while the first was still held: a thread per connection.
        assert not held.done()
        assert time.monotonic() - began < slow_seconds
        assert held.result(timeout=30) == "served"
        assert time.monotonic() - began >= slow_seconds
    assert (server.emulator.stats.slowed, server.emulator.stats.served) == (1, 2)


def test_close_does_not_wait_for_a_held_call(start: Start, image: bytes) -> None:
    from botocore.exceptions import ConnectionClosedError

    server = start(Faults(slow_rate=1.0, slow_seconds=30.0))
    client = client_for(server.url, read_timeout=60.0)
    with ThreadPoolExecutor(max_workers=1) as pool:
        held = pool.submit(detect, client, image)
        wait_until(lambda: server.emulator.stats.slowed == 1, "the call being held")
        began = time.monotonic()
        server.close()
        assert time.monotonic() - began < 2.0
        # The held call ends with the server, unanswered, rather than at its read timeout.
        with pytest.raises(ConnectionClosedError):
            held.result(timeout=5.0)
    assert time.monotonic() - began < 5.0


# -- the rate limit -------------------------------------------------------------------------------


def test_max_rate_serves_about_max_rate_calls_a_second_and_throttles_the_rest(start: Start, image: bytes) -> None:
    rate, burst = 20.0, 1
    server = start(Faults(max_rate=rate, burst=burst))
    client = client_for(server.url)
    seen: list[str] = []
    sent: list[float] = []
    took: list[float] = []
    # As fast as possible: at least 60 calls, and for a second (60 calls take a few ms on loopback).
    while len(seen) < 60 or time.monotonic() - sent[0] < 1.0:
        sent.append(time.monotonic())
        seen.append(outcome(client, image))
        took.append(time.monotonic() - sent[-1])
    # Each call reaches the bucket between its sending and its answer.
    elapsed = sent[-1] + took[-1] - sent[0]
    served = seen.count("served")
    assert set(seen) <= {"served", "ThrottlingException 400"}
    # At most: the bucket's burst, and rate tokens a second while calls come. The + 1 absorbs rounding.
    assert served <= burst + rate * elapsed + 1
    # At least: the bucket starts full; once a token is back (1/rate after the last was taken) the
    # next call to reach the bucket takes it, and two calls reach it at most two call durations
    # apart; the first and the last reach it at least elapsed minus two call durations apart.
    slowest = max(took)
    assert served >= 1 + math.floor(max(0.0, elapsed - 2 * slowest) / (1 / rate + 2 * slowest))
    calls = len(seen)
    stats = server.emulator.stats
    assert (stats.calls, stats.served, stats.throttled, stats.rate_throttled) == (
        calls,
        served,
        calls - served,
        calls - served,
    )
    assert_identity(server)


def test_a_burst_is_served_at_once_and_the_next_call_throttled(start: Start, image: bytes) -> None:
    # One token every 100 s: within this test the bucket holds only its burst.
    server = start(Faults(max_rate=0.01, burst=5))
    client = client_for(server.url)
    assert [outcome(client, image) for _ in range(8)] == ["served"] * 5 + ["ThrottlingException 400"] * 3


def test_the_rate_limit_comes_before_the_drawn_faults(start: Start, image: bytes) -> None:
    # Every call is an error by its draw, but only the burst's calls get that far.
    server = start(Faults(error_rate=1.0, max_rate=0.01, burst=2))
    client = client_for(server.url)
    assert [outcome(client, image) for _ in range(4)] == ["InternalServerError 500"] * 2 + [
        "ThrottlingException 400"
    ] * 2
    stats = server.emulator.stats
    assert (stats.errored, stats.throttled, stats.rate_throttled) == (2, 2, 2)


def test_the_bucket_is_exact_under_concurrent_calls(
    make_emulator: Callable[[Faults], RekognitionEmulator], image: bytes
) -> None:
    import base64

    # 100 calls from 8 threads against a bucket of 10 that refills once in 1000 s: exactly 10 served.
    emulator = make_emulator(Faults(max_rate=0.001, burst=10))
    body = json.dumps({"Image": {"Bytes": base64.b64encode(image).decode()}}).encode()
    with ThreadPoolExecutor(max_workers=8) as pool:
        replies = list(pool.map(lambda _: emulator.handle("RekognitionService.DetectFaces", body), range(100)))
    assert [status for status, _ in replies].count(200) == 10
    assert {payload["__type"] for status, payload in replies if status != 200} == {"ThrottlingException"}
    stats = emulator.stats
    assert (stats.calls, stats.served, stats.throttled, stats.rate_throttled) == (100, 10, 90, 90)


@pytest.mark.parametrize(("max_rate", "burst"), [(20.0, 20), (2.4, 2), (2.5, 2), (0.3, 1), (7, 7)])
def test_burst_defaults_to_max_rate_rounded_at_least_one(max_rate: float, burst: int) -> None:
    assert Faults(max_rate=max_rate).burst == burst


# -- validation -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"reset_rate": 1.5}, "reset-rate 1.5 must be a number from 0 to 1"),
        ({"slow_rate": -0.1}, "slow-rate -0.1 must be a number from 0 to 1"),
        ({"reset_rate": float("nan")}, "reset-rate nan must be a number from 0 to 1"),
        ({"slow_rate": True}, "slow-rate True must be a number from 0 to 1"),
        ({"reset_rate": "0.1"}, "reset-rate '0.1' must be a number from 0 to 1"),
        (
            {"throttle_rate": 0.5, "error_rate": 0.2, "slow_rate": 0.4},
            "throttle-rate 0.5, error-rate 0.2 and slow-rate 0.4 add up to more than 1; "
            "they are shares of the same calls",
        ),
        (
            {"reset_rate": 0.6, "slow_rate": 0.5},
            "reset-rate 0.6 and slow-rate 0.5 add up to more than 1; they are shares of the same calls",
        ),
        (
            {"slow_seconds": 0},
            "slow-seconds 0 must be a number of seconds above 0 (how long a slow call is held before its answer)",
        ),
        ({"slow_seconds": float("inf")}, "slow-seconds inf must be a number of seconds above 0"),
        ({"slow_seconds": float("nan")}, "slow-seconds nan must be a number of seconds above 0"),
        ({"slow_seconds": True}, "slow-seconds True must be a number of seconds above 0"),
        (
            {"max_rate": 0},
            "max-rate 0 must be a number of calls per second above 0 (leave it out for no limit)",
        ),
        ({"max_rate": float("nan")}, "max-rate nan must be a number of calls per second above 0"),
        ({"max_rate": float("inf")}, "max-rate inf must be a number of calls per second above 0"),
        ({"max_rate": False}, "max-rate False must be a number of calls per second above 0"),
        ({"max_rate": 5, "burst": 0}, "burst 0 must be a whole number of calls, at least 1"),
        ({"max_rate": 5, "burst": 2.5}, "burst 2.5 must be a whole number of calls, at least 1"),
        ({"max_rate": 5, "burst": True}, "burst True must be a whole number of calls, at least 1"),
        ({"burst": 3}, "burst 3 needs max-rate: it is the size of the bucket max-rate refills"),
        ({"page_rate": 1.5}, "page-rate 1.5 must be a number from 0 to 1"),
        ({"unknown_rate": -1}, "unknown-rate -1 must be a number from 0 to 1"),
        ({"page_rate": 0.6, "unknown_rate": 0.6}, "page-rate 0.6 and unknown-rate 0.6 add up to more than 1"),
        ({"page_status": 404}, "page-status 404 must be one of 200, 429, 502, 503, 504"),
        ({"page_status": True}, "page-status True must be one of 200, 429, 502, 503, 504"),
    ],
)
def test_bad_fault_settings_are_refused_with_a_message(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(EmulatorError, match=f"^{re.escape(message)}"):
        Faults(**kwargs)


def test_shares_adding_up_to_exactly_one_are_accepted() -> None:
    # 0.1 + 0.2 + 0.7 is 1.0000000000000002 in floating point; the shares still add up to 1.
    faults = Faults(throttle_rate=0.1, error_rate=0.2, reset_rate=0.7)
    assert faults.active
    assert Faults(slow_rate=1.0).active
    assert not Faults(max_rate=5).active  # the rate limit is not a drawn fault


# -- the command line -----------------------------------------------------------------------------


def test_help_lists_the_fault_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as excinfo:
        main(["rekognition", "--help"])
    assert excinfo.value.code == 0
    out = " ".join(capsys.readouterr().out.split())  # argparse wraps to the terminal's width
    for flag in ("--reset-rate R", "--slow-rate R", "--slow-seconds S", "--max-rate N", "--burst N"):
        assert flag in out
    assert "past botocore's 60 s read timeout" in out
    assert "gets ThrottlingException" in out


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--reset-rate", "2"], "reset-rate 2.0 must be a number from 0 to 1"),
        (["--slow-rate", "nan"], "slow-rate nan must be a number from 0 to 1"),
        (["--throttle-rate", "0.5", "--reset-rate", "0.6"], "throttle-rate 0.5 and reset-rate 0.6 add up to more"),
        (["--slow-seconds", "-1"], "slow-seconds -1.0 must be a number of seconds above 0"),
        (["--max-rate", "0"], "max-rate 0.0 must be a number of calls per second above 0"),
        (["--burst", "3"], "burst 3 needs max-rate"),
        (["--max-rate", "5", "--burst", "0"], "burst 0 must be a whole number of calls, at least 1"),
    ],
)
def test_main_refuses_bad_fault_options_in_one_line(
    files: tuple[Path, Path], capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    manifest, predictions = files
    assert main(["rekognition", "--dataset", str(manifest), "--predictions", str(predictions), *extra]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1
    assert captured.err.startswith("conformance emulate: error: ")
    assert message in captured.err


def test_main_serves_the_faults_it_is_given_and_counts_them(files: tuple[Path, Path], dataset: Dataset) -> None:
    from botocore.exceptions import ClientError, ConnectionClosedError

    manifest, predictions = files
    command = [
        sys.executable,
        "-c",
        "import sys; from conformance.emulators import main; sys.exit(main())",
        "rekognition",
        "--dataset",
        str(manifest),
        "--predictions",
        str(predictions),
        "--reset-rate",
        "1",
        "--max-rate",
        "0.01",
        "--burst",
        "1",
        "--min-image-side",
        "0",
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        lines: list[str] = []
        reader = threading.Thread(target=lambda: lines.append(process.stdout.readline()), daemon=True)  # type: ignore[union-attr]
        reader.start()
        reader.join(30)
        assert lines, "the emulator printed no line within 30 s"
        url = re.search(r"at (http://127\.0\.0\.1:\d+);", lines[0])
        assert url is not None, lines[0]
        client = client_for(url.group(1))
        data = dataset.photo("img/one.png").path.read_bytes()
        with pytest.raises(ConnectionClosedError):  # the bucket's one token, then the reset
            detect(client, data)
        with pytest.raises(ClientError, match="ThrottlingException"):  # the bucket is empty
            detect(client, data)
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, err
    assert "stopped after 2 calls (0 served, 1 throttled, 0 errored, 0 failed, 1 reset); 1 throttled by max-rate" in out


# -- stand-ins that are not the service: a proxy's pages, an unknown operation ---------------------------


@pytest.mark.parametrize("status", [200, 429, 502, 503, 504])
def test_a_page_fault_is_a_proxys_html_page_without_rekognitions_error_shape(
    start: Start, image: bytes, status: int
) -> None:
    import base64
    import http.client
    import json as json_module
    from urllib.parse import urlsplit

    server = start(Faults(page_rate=1.0, page_status=status))
    parts = urlsplit(server.url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    body = json_module.dumps({"Image": {"Bytes": base64.b64encode(image).decode()}})
    connection.request("POST", "/", body, {"X-Amz-Target": "RekognitionService.DetectFaces"})
    response = connection.getresponse()
    page = response.read().decode()
    assert response.status == status
    assert response.getheader("Content-Type") == "text/html"
    assert response.getheader("x-amzn-ErrorType") is None  # not Rekognition's error
    assert page.startswith("<html><head><title>")
    assert "not Amazon Rekognition" in page
    assert server.emulator.stats.paged == 1
    assert_identity(server)


def test_the_new_bands_follow_the_old_ones_call_by_call(start: Start, image: bytes) -> None:
    calls, seed = 30, 11
    server = start(Faults(error_rate=0.25, page_rate=0.25, unknown_rate=0.25, seed=seed))
    client = client_for(server.url)
    draws = random.Random(seed)
    expected = []
    for _ in range(calls):
        draw = draws.random()
        # Bands in order: throttle (0), error [0, .25), reset (0), slow (0), page [.25, .5), unknown [.5, .75).
        if draw < 0.25:
            expected.append("InternalServerError 500")
        elif draw < 0.5:
            expected.append("502 502")  # botocore names an error without Rekognition's shape by its status
        elif draw < 0.75:
            expected.append("UnknownOperationException 400")
        else:
            expected.append("served")
    assert [outcome(client, image) for _ in range(calls)] == expected
    assert {"InternalServerError 500", "502 502", "UnknownOperationException 400", "served"} == set(expected)
    assert server.emulator.stats.paged == expected.count("502 502")
    assert_identity(server)
