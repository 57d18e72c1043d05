"""The Rekognition emulator, driven by real boto3 over loopback, and its strict response check.

The dataset is seven 8x8 PNGs of distinct colours (the ``make_manifest`` fixture) and a
predictions file written here; every expected value below is read off that file by hand.
"""

from __future__ import annotations

import base64
import http.client
import json
import random
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from conformance import Dataset, PredictionsError, load_dataset
from conformance.adapters.predictions import PredictionsAnalyzer
from conformance.emulators import (
    EmulatorError,
    EmulatorServer,
    Faults,
    RekognitionEmulator,
    main,
    serve,
    validate_response,
)
from conformance.emulators import rekognition as rekognition_module

MakeManifest = Callable[..., Path]  # the conftest fixture
Client = Any  # boto3 clients are generated at run time and carry no static type

ROWS = [
    {"photo": "img/one.png", "subject": "s1", "gender_identity": "woman", "trans": "no"},
    {"photo": "img/two.png", "subject": "s2", "gender_identity": "man", "trans": "yes"},
    {"photo": "img/abstain.png", "subject": "s3", "gender_identity": "nonbinary", "trans": "unknown"},
    {"photo": "img/bad.png", "subject": "s4", "gender_identity": "woman", "trans": "no"},
    {"photo": "img/odd.png", "subject": "s5", "gender_identity": "man", "trans": "no"},
    {"photo": "img/none.png", "subject": "s6", "gender_identity": "woman", "trans": "yes"},
    {"photo": "img/nobox.png", "subject": "s7", "gender_identity": "woman", "trans": "no"},
]
HEADER = {"analyzer": "emulator-test", "version": "1", "vocabulary": ["Male", "Female"], "abstains": True}
LINES: list[dict[str, Any]] = [
    HEADER,
    {"photo": "img/one.png", "faces": [{"gender": "Female", "confidence": 97.5, "box": [0.1, 0.2, 0.3, 0.4]}]},
    {
        "photo": "img/two.png",
        "faces": [
            {"gender": "Male", "confidence": 88.25, "box": [0.05, 0.1, 0.2, 0.3]},
            {"gender": "Female", "confidence": 61.0, "box": [0.6, 0.1, 0.25, 0.35]},
        ],
    },
    {"photo": "img/abstain.png", "faces": [{"gender": None, "confidence": None, "box": [0.3, 0.3, 0.4, 0.4]}]},
    {"photo": "img/bad.png", "error": "InvalidImageFormatException"},
    {"photo": "img/odd.png", "error": "the camera was unplugged"},
    {"photo": "img/none.png", "faces": []},
    {"photo": "img/nobox.png", "faces": [{"gender": "Female", "confidence": 70.0}]},
]


def write_predictions(path: Path, lines: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return path


@pytest.fixture
def files(make_manifest: MakeManifest, tmp_path: Path) -> tuple[Path, Path]:
    """The manifest and the predictions file."""
    return make_manifest(ROWS), write_predictions(tmp_path / "predictions.jsonl", LINES)


@pytest.fixture
def dataset(files: tuple[Path, Path]) -> Dataset:
    return load_dataset(files[0])


@pytest.fixture
def make_emulator(dataset: Dataset, files: tuple[Path, Path]) -> Callable[..., RekognitionEmulator]:
    def make(faults: Faults | None = None) -> RekognitionEmulator:
        return RekognitionEmulator(dataset, PredictionsAnalyzer(files[1], dataset=dataset), faults=faults)

    return make


@pytest.fixture
def start(make_emulator: Callable[..., RekognitionEmulator]) -> Iterator[Callable[..., EmulatorServer]]:
    """Start a served emulator (with optional faults); every one is closed after the test."""
    servers: list[EmulatorServer] = []

    def start_one(faults: Faults | None = None) -> EmulatorServer:
        servers.append(serve(make_emulator(faults)))
        return servers[-1]

    yield start_one
    for server in servers:
        server.close()


def client_for(url: str) -> Client:
    import boto3
    import botocore.config

    return boto3.client(
        "rekognition",
        region_name="us-east-1",
        endpoint_url=url,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        # One request per call: in botocore "max_attempts" counts *retries*, "total_max_attempts" attempts.
        config=botocore.config.Config(retries={"total_max_attempts": 1}),
    )


@pytest.fixture
def client(start: Callable[..., EmulatorServer]) -> Client:
    return client_for(start().url)


def image(dataset: Dataset, photo_id: str) -> bytes:
    return dataset.photo(photo_id).path.read_bytes()


def detect(client: Client, data: bytes, attributes: list[str] | None = None) -> dict[str, Any]:
    response: dict[str, Any] = client.detect_faces(Image={"Bytes": data}, Attributes=attributes or ["GENDER"])
    return response


def error_code(excinfo: pytest.ExceptionInfo[Exception]) -> str:
    return str(excinfo.value.response["Error"]["Code"])  # type: ignore[attr-defined]


# -- DetectFaces through boto3 --------------------------------------------------------------------


def test_gender_requested_returns_the_predicted_label_confidence_and_box(client: Client, dataset: Dataset) -> None:
    response = detect(client, image(dataset, "img/one.png"), ["GENDER"])
    assert response["FaceDetails"] == [
        {
            "BoundingBox": {"Width": 0.3, "Height": 0.4, "Left": 0.1, "Top": 0.2},
            "Confidence": 99.9,
            "Gender": {"Value": "Female", "Confidence": 97.5},
        }
    ]
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert response["ResponseMetadata"]["RequestId"].startswith("conformance-emulator-")


def test_all_attributes_include_gender_and_default_omits_it(client: Client, dataset: Dataset) -> None:
    data = image(dataset, "img/one.png")
    assert detect(client, data, ["ALL"])["FaceDetails"][0]["Gender"] == {"Value": "Female", "Confidence": 97.5}
    default = detect(client, data, ["DEFAULT"])["FaceDetails"]
    assert len(default) == 1
    assert "Gender" not in default[0]
    # Omitting Attributes means DEFAULT too.
    assert "Gender" not in client.detect_faces(Image={"Bytes": data})["FaceDetails"][0]


def test_several_faces_come_back_in_file_order(client: Client, dataset: Dataset) -> None:
    faces = detect(client, image(dataset, "img/two.png"))["FaceDetails"]
    assert [(f["Gender"]["Value"], f["Gender"]["Confidence"]) for f in faces] == [("Male", 88.25), ("Female", 61.0)]
    assert [f["BoundingBox"] for f in faces] == [
        {"Width": 0.2, "Height": 0.3, "Left": 0.05, "Top": 0.1},
        {"Width": 0.25, "Height": 0.35, "Left": 0.6, "Top": 0.1},
    ]


def test_abstention_has_a_face_but_no_gender(client: Client, dataset: Dataset) -> None:
    faces = detect(client, image(dataset, "img/abstain.png"), ["ALL"])["FaceDetails"]
    assert faces == [{"BoundingBox": {"Width": 0.4, "Height": 0.4, "Left": 0.3, "Top": 0.3}, "Confidence": 99.9}]


def test_a_face_without_a_box_gets_a_centred_one(client: Client, dataset: Dataset) -> None:
    face = detect(client, image(dataset, "img/nobox.png"))["FaceDetails"][0]
    assert face["BoundingBox"] == {"Width": 0.5, "Height": 0.6, "Left": 0.25, "Top": 0.2}
    assert face["Gender"] == {"Value": "Female", "Confidence": 70.0}


def test_no_face_line_and_unknown_image_both_give_empty_face_details(client: Client, dataset: Dataset) -> None:
    from PIL import Image

    assert detect(client, image(dataset, "img/none.png"))["FaceDetails"] == []
    stranger = dataset.root / "stranger.png"
    Image.new("RGB", (8, 8), (1, 2, 3)).save(stranger, format="PNG")
    assert detect(client, stranger.read_bytes())["FaceDetails"] == []


def test_error_line_naming_a_detect_faces_error_raises_it(client: Client, dataset: Dataset) -> None:
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError) as excinfo:
        detect(client, image(dataset, "img/bad.png"))
    assert error_code(excinfo) == "InvalidImageFormatException"
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_error_line_with_other_text_is_an_invalid_parameter_carrying_it(client: Client, dataset: Dataset) -> None:
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError) as excinfo:
        detect(client, image(dataset, "img/odd.png"))
    assert error_code(excinfo) == "InvalidParameterException"
    assert excinfo.value.response["Error"]["Message"] == "the camera was unplugged"


def test_unimplemented_operation_names_itself(client: Client) -> None:
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError) as excinfo:
        client.list_collections()
    assert error_code(excinfo) == "UnknownOperationException"
    assert "ListCollections" in str(excinfo.value)
    assert "does not serve" in str(excinfo.value)


def test_s3_object_images_are_refused_with_a_message(client: Client) -> None:
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError) as excinfo:
        client.detect_faces(Image={"S3Object": {"Bucket": "photos", "Name": "n.png"}})
    assert error_code(excinfo) == "InvalidS3ObjectException"
    assert "Image.Bytes" in str(excinfo.value)


# -- the wire, without boto3 ----------------------------------------------------------------------


def post(connection: http.client.HTTPConnection, target: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
    connection.request(
        "POST", "/", body=body, headers={"X-Amz-Target": target, "Content-Type": "application/x-amz-json-1.1"}
    )
    response = connection.getresponse()
    return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()


def test_wire_format_keep_alive_and_botocore_parser(start: Callable[..., EmulatorServer], dataset: Dataset) -> None:
    import botocore.parsers
    import botocore.session

    server = start()
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    body = json.dumps(
        {"Image": {"Bytes": base64.b64encode(image(dataset, "img/one.png")).decode()}, "Attributes": ["GENDER"]}
    )
    status, headers, raw = post(connection, "RekognitionService.DetectFaces", body.encode())
    assert status == 200
    assert headers["content-type"] == "application/x-amz-json-1.1"
    assert int(headers["content-length"]) == len(raw)
    assert "EMULATED" in headers["x-conformance-emulator"]
    # botocore's own parser, given the raw response, reads the same face.
    model = botocore.session.get_session().get_service_model("rekognition")
    parsed = botocore.parsers.create_parser("json").parse(
        {"status_code": status, "headers": headers, "body": raw}, model.operation_model("DetectFaces").output_shape
    )
    assert parsed["FaceDetails"][0]["Gender"] == {"Value": "Female", "Confidence": 97.5}

    # Same connection (HTTP/1.1 keep-alive): an error carries x-amzn-ErrorType and a JSON __type.
    status, headers, raw = post(connection, "RekognitionService.DetectFaces", b'{"Image": {"Bytes": "***"}}')
    assert status == 400
    assert headers["x-amzn-errortype"] == "InvalidParameterException"
    assert json.loads(raw)["__type"] == "InvalidParameterException"
    assert "base64" in json.loads(raw)["Message"]
    status, _, raw = post(connection, "RekognitionService.DetectFaces", b"not json")
    assert (status, json.loads(raw)["__type"]) == (400, "SerializationException")
    connection.close()


# -- faults ---------------------------------------------------------------------------------------


def test_throttle_rate_one_throttles_every_call_alternating_codes(
    start: Callable[..., EmulatorServer], dataset: Dataset
) -> None:
    from botocore.exceptions import ClientError

    server = start(Faults(throttle_rate=1.0, seed=3))
    client = client_for(server.url)
    codes = []
    for _ in range(4):
        with pytest.raises(ClientError) as excinfo:
            detect(client, image(dataset, "img/one.png"))
        assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
        codes.append(error_code(excinfo))
    assert codes == ["ThrottlingException", "ProvisionedThroughputExceededException"] * 2
    assert server.emulator.stats.throttled == 4  # one request per call: no retry hid a fault


def count_errors(server: EmulatorServer, data: bytes, calls: int) -> int:
    from botocore.exceptions import ClientError

    client = client_for(server.url)
    failures: list[tuple[str, int]] = []
    for _ in range(calls):
        try:
            detect(client, data)
        except ClientError as exc:
            failures.append((exc.response["Error"]["Code"], exc.response["ResponseMetadata"]["HTTPStatusCode"]))
    assert set(failures) <= {("InternalServerError", 500)}
    return len(failures)


def test_error_rate_is_reproducible_with_a_seed(start: Callable[..., EmulatorServer], dataset: Dataset) -> None:
    data = image(dataset, "img/one.png")
    # The documented contract: one draw of random.Random(seed) per call; an error when it is below 0.5.
    draws = random.Random(20261121)
    expected = sum(draws.random() < 0.5 for _ in range(40))
    first, second = start(Faults(error_rate=0.5, seed=20261121)), start(Faults(error_rate=0.5, seed=20261121))
    assert count_errors(first, data, 40) == expected
    assert count_errors(second, data, 40) == expected
    assert (first.emulator.stats.errored, first.emulator.stats.served) == (expected, 40 - expected)
    assert 0 < expected < 40


def test_fault_counters_are_exact_under_concurrent_calls(
    make_emulator: Callable[..., RekognitionEmulator], dataset: Dataset
) -> None:
    emulator = make_emulator(Faults(throttle_rate=0.3, error_rate=0.2, seed=7))
    body = json.dumps({"Image": {"Bytes": base64.b64encode(image(dataset, "img/one.png")).decode()}}).encode()
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(lambda _: emulator.handle("RekognitionService.DetectFaces", body)[0], range(200)))
    # Which call gets which draw depends on timing; how many draws fall in each band does not.
    draws = random.Random(7)
    values = [draws.random() for _ in range(200)]
    throttled = sum(v < 0.3 for v in values)
    errored = sum(0.3 <= v < 0.5 for v in values)
    stats = emulator.stats
    assert (stats.calls, stats.throttled, stats.errored, stats.served) == (
        200,
        throttled,
        errored,
        200 - throttled - errored,
    )
    assert statuses.count(500) == errored
    assert statuses.count(400) == throttled


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"throttle_rate": 1.5}, "throttle-rate 1.5 must be a number from 0 to 1"),
        ({"error_rate": float("nan")}, "error-rate nan must be"),
        ({"throttle_rate": 0.7, "error_rate": 0.4}, "add up to more than 1"),
    ],
)
def test_fault_rates_out_of_range_are_refused(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(EmulatorError, match=message):
        Faults(**kwargs)


# -- the strict response check --------------------------------------------------------------------


def robot() -> dict[str, Any]:
    return {"FaceDetails": [{"Gender": {"Value": "Robot", "Confidence": 50.0}, "Confidence": 99.0}]}


def test_botocore_own_validator_lets_robot_and_200_through() -> None:
    """Why the emulator needs its own check: botocore checks neither enums nor maximums."""
    import botocore.session
    import botocore.validate

    shape = botocore.session.get_session().get_service_model("rekognition").operation_model("DetectFaces").output_shape
    body = {"FaceDetails": [{"Gender": {"Value": "Robot", "Confidence": 200.0}}]}
    assert not botocore.validate.ParamValidator().validate(body, shape).has_errors()


def test_validate_response_rejects_a_value_outside_the_enum() -> None:
    with pytest.raises(
        ValueError, match=r"FaceDetails\[0\]\.Gender\.Value: 'Robot' is not one of \['Male', 'Female'\]"
    ):
        validate_response("DetectFaces", robot())


def test_validate_response_rejects_a_confidence_above_100() -> None:
    body = {"FaceDetails": [{"Gender": {"Value": "Male", "Confidence": 200.0}}]}
    with pytest.raises(ValueError, match=r"FaceDetails\[0\]\.Gender\.Confidence: 200\.0 is above the maximum 100"):
        validate_response("DetectFaces", body)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"FaceDetails": [], "Extra": 1}, r"\(body\): unknown member 'Extra' in DetectFacesResponse"),
        ({"FaceDetails": [{"BoundingBox": {"Wide": 0.1}}]}, r"FaceDetails\[0\]\.BoundingBox: unknown member 'Wide'"),
        ({"FaceDetails": {}}, r"FaceDetails: expected a list"),
        ({"FaceDetails": [{"Confidence": "high"}]}, r"FaceDetails\[0\]\.Confidence: expected a finite number"),
        ({"FaceDetails": [{"Confidence": True}]}, r"FaceDetails\[0\]\.Confidence: expected a finite number"),
        ({"FaceDetails": [{"Confidence": -1}]}, r"FaceDetails\[0\]\.Confidence: -1 is below the minimum 0"),
        ({"FaceDetails": [{"Smile": {"Value": "yes"}}]}, r"FaceDetails\[0\]\.Smile\.Value: expected true or false"),
        ({"FaceDetails": [{"Gender": None}]}, r"FaceDetails\[0\]\.Gender: null"),
    ],
)
def test_validate_response_names_the_path_of_each_violation(body: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        validate_response("DetectFaces", body)


@pytest.mark.parametrize(
    ("operation", "body", "message"),
    [
        (
            "CreateFaceLivenessSession",
            {},
            r"\(body\): required member 'SessionId' of CreateFaceLivenessSessionResponse",
        ),
        (
            "CreateFaceLivenessSession",
            {"SessionId": "x" * 36},
            r"SessionId: 'x{36}' does not match the pattern",
        ),
        ("DeleteFaces", {"DeletedFaces": []}, r"DeletedFaces: 0 items, fewer than the minimum 1 of FaceIdList"),
    ],
)
def test_validate_response_checks_required_members_patterns_and_list_lengths(
    operation: str, body: dict[str, Any], message: str
) -> None:
    # DetectFaces has none of these constraints; other operations' models do (the emulator's next operations).
    with pytest.raises(ValueError, match=message):
        validate_response(operation, body)
    validate_response("CreateFaceLivenessSession", {"SessionId": "0f2b6a34-9c1d-4e5f-8a7b-123456789abc"})


def test_a_response_failing_validation_is_a_500_naming_the_bug(
    make_emulator: Callable[..., RekognitionEmulator], dataset: Dataset, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rekognition_module, "DETECTION_CONFIDENCE", 200.0)
    emulator = make_emulator()
    body = json.dumps({"Image": {"Bytes": base64.b64encode(image(dataset, "img/one.png")).decode()}}).encode()
    status, payload = emulator.handle("RekognitionService.DetectFaces", body)
    assert status == 500
    assert payload["__type"] == "InternalServerError"
    assert "FaceDetails[0].Confidence: 200.0 is above the maximum 100" in payload["Message"]


# -- refusing to start ----------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "::", "example.com"])
def test_non_loopback_hosts_are_refused(make_emulator: Callable[..., RekognitionEmulator], host: str) -> None:
    with pytest.raises(EmulatorError, match=f"refusing to bind '{host}'.*loopback only"):
        serve(make_emulator(), host=host)


def test_localhost_binds_ipv4_loopback(make_emulator: Callable[..., RekognitionEmulator]) -> None:
    with serve(make_emulator(), host="localhost") as server:
        assert server.url == f"http://127.0.0.1:{server.port}"
        assert server.port > 0


def test_ipv6_loopback_serves_boto3(make_emulator: Callable[..., RekognitionEmulator], dataset: Dataset) -> None:
    try:
        server = serve(make_emulator(), host="::1")
    except OSError as exc:
        pytest.skip(f"no IPv6 loopback here: {exc}")
    with server:
        assert server.url == f"http://[::1]:{server.port}"
        assert detect(client_for(server.url), image(dataset, "img/one.png"))["FaceDetails"][0]["Confidence"] == 99.9


def test_a_gender_label_outside_gender_type_refuses_to_start(dataset: Dataset, tmp_path: Path) -> None:
    lines: list[dict[str, Any]] = [
        {"analyzer": "broader", "version": "1"},
        {"photo": "img/one.png", "faces": [{"gender": "Female", "confidence": 90.0}]},
        {"photo": "img/two.png", "faces": [{"gender": "Nonbinary", "confidence": 80.0}]},
    ]
    predictions = write_predictions(tmp_path / "broader.jsonl", lines)
    analyzer = PredictionsAnalyzer(predictions, dataset=dataset)
    with pytest.raises(
        PredictionsError, match=r"broader\.jsonl line 3: gender label 'Nonbinary' \(photo 'img/two\.png'\)"
    ):
        RekognitionEmulator(dataset, analyzer)


def test_identical_images_with_different_predictions_refuse_to_start(
    make_manifest: MakeManifest, tmp_path: Path
) -> None:
    # One person's two photos (one image under two subject ids is refused at load, red team 13c).
    manifest = make_manifest([ROWS[0], {**ROWS[0], "photo": "img/two.png"}])
    (manifest.parent / "img/two.png").write_bytes((manifest.parent / "img/one.png").read_bytes())
    dataset = load_dataset(manifest)
    predictions = write_predictions(tmp_path / "p.jsonl", LINES[:3])
    with pytest.raises(PredictionsError, match=r"'img/one\.png' and 'img/two\.png' have identical image bytes"):
        RekognitionEmulator(dataset, PredictionsAnalyzer(predictions, dataset=dataset))


# -- the command line -----------------------------------------------------------------------------


def read_line(process: subprocess.Popen[str], timeout: float) -> str:
    """The process's first stdout line, or a failure with its stderr if none comes in time."""
    assert process.stdout is not None
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.append(process.stdout.readline()), daemon=True)  # type: ignore[union-attr]
    reader.start()
    reader.join(timeout)
    if not lines or not lines[0]:
        process.kill()
        _, err = process.communicate()
        pytest.fail(f"the emulator printed no line within {timeout} s; stderr: {err}")
    return lines[0]


def test_main_serves_until_sigterm(files: tuple[Path, Path], dataset: Dataset) -> None:
    manifest, predictions = files
    command = [
        sys.executable,
        "-c",
        "import sys; from conformance.emulators import main; sys.exit(main())",
        "rekognition",
        "--port",
        "0",
        "--dataset",
        str(manifest),
        "--predictions",
        str(predictions),
        "--min-image-side",
        "0",  # the test's photos are 8x8 placeholders, as the demo's
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = read_line(process, timeout=30)
        prefix = "conformance emulator: Amazon Rekognition (EMULATED, not the vendor) serving 7 photos at "
        assert line.startswith(prefix), line
        url, _, hint = line[len(prefix) :].strip().partition("; ")
        assert url.startswith("http://127.0.0.1:")
        assert int(url.rsplit(":", 1)[1]) > 0
        assert hint == f"set AWS_ENDPOINT_URL_REKOGNITION={url}"

        assert detect(client_for(url), image(dataset, "img/one.png"))["FaceDetails"][0]["Gender"]["Value"] == "Female"
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, err
    assert "stopped after 1 calls (1 served, 0 throttled, 0 errored, 0 failed)" in out
    assert err == ""


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--throttle-rate", "1.5"], "throttle-rate 1.5 must be a number from 0 to 1"),
        (["--host", "0.0.0.0"], "refusing to bind '0.0.0.0'"),
        (["--dataset", "missing.csv"], "manifest not found"),
    ],
)
def test_main_bad_input_is_one_line_on_stderr_and_exit_2(
    files: tuple[Path, Path], capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    manifest, predictions = files
    argv = ["rekognition", "--dataset", str(manifest), "--predictions", str(predictions), *extra]
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1
    assert captured.err.startswith("conformance emulate: error: ")
    assert message in captured.err


def test_main_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as excinfo:
        main(["rekognition", "--port", "0"])
    assert excinfo.value.code == 2
    assert "--dataset" in capsys.readouterr().err


# -- realism: the image checks the service makes ------------------------------------------------------


def test_non_image_bytes_get_invalid_image_format_as_the_service_answers(client: Client) -> None:
    from botocore.exceptions import ClientError

    for data in (b"definitely not an image", b"BM" + b"\x00" * 60, b"\xff\xd8\xff" + b"\x00" * 10):
        with pytest.raises(ClientError) as excinfo:
            detect(client, data)
        assert error_code(excinfo) == "InvalidImageFormatException"
        assert excinfo.value.response["Error"]["Message"] == "Request has invalid image format"


def test_min_image_side_refuses_images_under_80_pixels_as_the_service_does(
    dataset: Dataset, files: tuple[Path, Path], tmp_path: Path
) -> None:
    from botocore.exceptions import ClientError
    from PIL import Image

    emulator = RekognitionEmulator(
        dataset, PredictionsAnalyzer(files[1], dataset=dataset), min_image_side=rekognition_module.MIN_IMAGE_SIDE
    )
    assert rekognition_module.MIN_IMAGE_SIDE == 80  # Rekognition's documented minimum height and width
    sizes = {(8, 8): "refused", (79, 200): "refused", (200, 79): "refused", (80, 80): "served"}
    with serve(emulator) as server:
        client = client_for(server.url)
        for (width, height), expected in sizes.items():
            path = tmp_path / f"{width}x{height}.png"
            Image.new("RGB", (width, height), (9, 9, 9)).save(path, format="PNG")
            if expected == "served":
                assert detect(client, path.read_bytes())["FaceDetails"] == []  # not a photo of the dataset
                continue
            with pytest.raises(ClientError) as excinfo:
                detect(client, path.read_bytes())
            assert error_code(excinfo) == "InvalidParameterException"
            message = excinfo.value.response["Error"]["Message"]
            assert message.startswith("Request has invalid parameters (emulated: the Image is ")
            assert f"{width}x{height} pixels; Rekognition's minimum is 80 pixels in height and width)" in message
    with pytest.raises(EmulatorError, match="min-image-side -1 must be a whole number of pixels"):
        RekognitionEmulator(dataset, PredictionsAnalyzer(files[1], dataset=dataset), min_image_side=-1)


def test_conformance_emulate_refuses_images_under_the_minimum_by_default(
    files: tuple[Path, Path], dataset: Dataset
) -> None:
    """New recordings through ``conformance emulate`` get the service's refusal of the kit's 8x8 placeholders."""
    from botocore.exceptions import ClientError

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
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = read_line(process, timeout=30)
        url = line.split(" at ", 1)[1].split(";", 1)[0]
        with pytest.raises(ClientError) as excinfo:
            detect(client_for(url), image(dataset, "img/one.png"))
        assert error_code(excinfo) == "InvalidParameterException"
        assert "the Image is 8x8 pixels" in excinfo.value.response["Error"]["Message"]
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
