"""The Rekognition emulator's face-matching operations, driven by real boto3 over loopback.

CreateCollection, IndexFaces, SearchFacesByImage, CompareFaces and DeleteCollection answer from a
tiny matching dataset written here (eight 8x8 PNGs of distinct colours) and a predictions file
whose probe lines are read off by hand below; one test serves the shipped matching demo through
the ``emulate`` command line. Every response boto3 returns is checked again against botocore's
model with :func:`validate_response`.
"""

from __future__ import annotations

import base64
import json
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from conformance import Dataset, PredictionsError, load_dataset
from conformance.adapters.predictions import PredictionsAnalyzer
from conformance.emulators import EmulatorServer, Faults, RekognitionEmulator, serve, validate_response
from conformance.emulators.rekognition import face_id, image_id

MakeManifest = Callable[..., Path]  # the conftest fixture
Client = Any  # boto3 clients are generated at run time and carry no static type

DEMO = Path(__file__).resolve().parent.parent / "conformance" / "demo" / "matching"

ROWS = [
    {"photo": "img/g1.png", "subject": "ann", "role": "gallery"},
    {"photo": "img/g2.png", "subject": "bob", "role": "gallery"},
    {"photo": "img/g3.png", "subject": "cy", "role": "gallery"},
    {"photo": "img/late.png", "subject": "dee", "role": "gallery"},
    {"photo": "img/broken.png", "subject": "eve", "role": "gallery"},
    {"photo": "img/blank.png", "subject": "fay", "role": "gallery"},
    {"photo": "img/p_ann.png", "subject": "ann", "role": "probe"},
    {"photo": "img/p_many.png", "subject": "gus", "role": "probe"},
    {"photo": "img/p_noface.png", "subject": "hal", "role": "probe"},
    {"photo": "img/p_error.png", "subject": "ivy", "role": "probe"},
    {"photo": "img/p_none.png", "subject": "jo", "role": "probe"},
]
FLOOR = 70
LINES: list[dict[str, Any]] = [
    {"analyzer": "search-test", "version": "1", "search_threshold": FLOOR},
    {"photo": "img/broken.png", "error": "InvalidImageFormatException"},
    {"photo": "img/blank.png", "faces": []},
    {
        "probe": "img/p_ann.png",
        "matches": [{"gallery": "img/g1.png", "similarity": 85.3}, {"gallery": "img/g2.png", "similarity": 75.0}],
    },
    {
        "probe": "img/p_many.png",
        "matches": [
            {"gallery": "img/g2.png", "similarity": 92.0},
            {"gallery": "img/g1.png", "similarity": 95.5},
            {"gallery": "img/late.png", "similarity": 97.0},
            {"gallery": "img/g3.png", "similarity": 91.25},
        ],
    },
    {"probe": "img/p_noface.png", "no_face": True},
    {"probe": "img/p_error.png", "error": "ImageTooLargeException"},
    {"probe": "img/p_none.png", "matches": []},
]
# Indexed by the `indexed` fixture; "late" is left out, broken and blank cannot be indexed.
INDEXED = ("img/g1.png", "img/g2.png", "img/g3.png")


def external(photo_id: str) -> str:
    """An ExternalImageId the model's pattern [a-zA-Z0-9_.\\-:]+ allows: no "/" in it."""
    return photo_id.replace("/", ":")


@pytest.fixture
def dataset(make_manifest: MakeManifest) -> Dataset:
    return load_dataset(make_manifest(ROWS))


@pytest.fixture
def predictions(tmp_path: Path) -> Path:
    path = tmp_path / "search.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in LINES), encoding="utf-8")
    return path


@pytest.fixture
def start(dataset: Dataset, predictions: Path) -> Iterator[Callable[..., EmulatorServer]]:
    """Start a served emulator (optional faults); all are closed after the test."""
    servers: list[EmulatorServer] = []

    def start_one(faults: Faults | None = None) -> EmulatorServer:
        emulator = RekognitionEmulator(dataset, PredictionsAnalyzer(predictions, dataset=dataset), faults=faults)
        servers.append(serve(emulator))
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
        config=botocore.config.Config(retries={"total_max_attempts": 1}),
    )


# boto3 method -> the operation whose output shape its response must fit.
OPERATIONS = {
    "create_collection": "CreateCollection",
    "delete_collection": "DeleteCollection",
    "index_faces": "IndexFaces",
    "search_faces_by_image": "SearchFacesByImage",
    "compare_faces": "CompareFaces",
}


class Checked:
    """A boto3 client whose every response is checked against the model before the test sees it."""

    def __init__(self, client: Client) -> None:
        self.client = client

    def __getattr__(self, method: str) -> Callable[..., dict[str, Any]]:
        operation = OPERATIONS[method]

        def call(**kwargs: Any) -> dict[str, Any]:
            response: dict[str, Any] = getattr(self.client, method)(**kwargs)
            assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
            validate_response(operation, {k: v for k, v in response.items() if k != "ResponseMetadata"})
            return response

        return call


@pytest.fixture
def client(start: Callable[..., EmulatorServer]) -> Checked:
    return Checked(client_for(start().url))


def image(dataset: Dataset, photo_id: str) -> bytes:
    return dataset.photo(photo_id).path.read_bytes()


def index(client: Checked, dataset: Dataset, collection: str, photo_id: str) -> dict[str, Any]:
    return client.index_faces(
        CollectionId=collection, Image={"Bytes": image(dataset, photo_id)}, ExternalImageId=external(photo_id)
    )


@pytest.fixture
def indexed(client: Checked, dataset: Dataset) -> dict[str, str]:
    """Collection "gallery" with INDEXED in it; returns each photo's face id."""
    client.create_collection(CollectionId="gallery")
    return {p: index(client, dataset, "gallery", p)["FaceRecords"][0]["Face"]["FaceId"] for p in INDEXED}


def search(client: Checked, dataset: Dataset, probe: str, collection: str = "gallery", **kwargs: Any) -> Any:
    return client.search_faces_by_image(CollectionId=collection, Image={"Bytes": image(dataset, probe)}, **kwargs)


def found(response: dict[str, Any]) -> list[tuple[str, float]]:
    return [(m["Face"]["ExternalImageId"], m["Similarity"]) for m in response["FaceMatches"]]


def client_error(call: Callable[[], object]) -> tuple[str, str, int]:
    """The code, message and HTTP status of the ClientError ``call`` raises."""
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError) as excinfo:
        call()
    error = excinfo.value.response
    return error["Error"]["Code"], error["Error"]["Message"], error["ResponseMetadata"]["HTTPStatusCode"]


# -- collections ----------------------------------------------------------------------------------


def test_create_collection_answers_the_real_arn_form_and_refuses_a_second_create(client: Checked) -> None:
    response = client.create_collection(CollectionId="run-1.gallery_A")
    assert response["StatusCode"] == 200
    assert response["CollectionArn"] == "aws:rekognition:us-east-1:000000000000:collection/run-1.gallery_A"
    assert response["FaceModelVersion"] == "emulated-1.0"
    code, message, status = client_error(lambda: client.create_collection(CollectionId="run-1.gallery_A"))
    assert (code, status) == ("ResourceAlreadyExistsException", 400)
    assert "run-1.gallery_A" in message


def test_collection_id_outside_the_model_pattern_is_a_validation_exception(client: Checked) -> None:
    code, message, status = client_error(lambda: client.create_collection(CollectionId="my gallery"))
    assert (code, status) == ("ValidationException", 400)
    assert message == (
        "1 validation error detected: Value 'my gallery' at 'collectionId' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: [a-zA-Z0-9_.\\-]+"
    )


def test_delete_then_search_index_and_delete_are_resource_not_found(client: Checked, dataset: Dataset) -> None:
    client.create_collection(CollectionId="gone")
    index(client, dataset, "gone", "img/g1.png")
    assert client.delete_collection(CollectionId="gone")["StatusCode"] == 200
    calls: list[Callable[[], object]] = [
        lambda: search(client, dataset, "img/p_ann.png", collection="gone"),
        lambda: index(client, dataset, "gone", "img/g1.png"),
        lambda: client.delete_collection(CollectionId="gone"),
        lambda: search(client, dataset, "img/p_ann.png", collection="never-made"),
    ]
    for call in calls:
        code, message, status = client_error(call)
        assert (code, status) == ("ResourceNotFoundException", 400)
        assert "does not exist" in message
    # A collection made again under the same id starts empty, with the same face ids as before.
    client.create_collection(CollectionId="gone")
    assert search(client, dataset, "img/p_ann.png", collection="gone")["FaceMatches"] == []


# -- IndexFaces -----------------------------------------------------------------------------------


def test_index_every_gallery_photo_gives_uuid_face_ids_equal_across_emulators(
    start: Callable[..., EmulatorServer], dataset: Dataset
) -> None:
    first, second = Checked(client_for(start().url)), Checked(client_for(start().url))
    ids: list[dict[str, str]] = []
    for client in (first, second):
        client.create_collection(CollectionId="run-7")
        ids.append({})
        for photo in ("img/g1.png", "img/g2.png", "img/g3.png", "img/late.png"):
            records = index(client, dataset, "run-7", photo)["FaceRecords"]
            assert len(records) == 1
            face = records[0]["Face"]
            ids[-1][photo] = face["FaceId"]
            assert str(uuid.UUID(face["FaceId"])) == face["FaceId"]  # 8-4-4-4-12, lower case
            assert face["ImageId"] == image_id(dataset.photo(photo).digest)
            assert face["FaceId"] == face_id("run-7", dataset.photo(photo).digest, 0)
            assert face["ExternalImageId"] == external(photo)
            assert face["Confidence"] == 99.9
            assert face["BoundingBox"] == {"Width": 0.5, "Height": 0.6, "Left": 0.25, "Top": 0.2}
            assert records[0]["FaceDetail"] == {"BoundingBox": face["BoundingBox"], "Confidence": 99.9}
    assert ids[0] == ids[1]
    assert len(set(ids[0].values())) == 4
    # Another collection gets other face ids for the same images, and the same image ids.
    first.create_collection(CollectionId="run-8")
    other = index(first, dataset, "run-8", "img/g1.png")["FaceRecords"][0]["Face"]
    assert other["FaceId"] != ids[0]["img/g1.png"]


def test_index_faces_answer_carries_model_version_and_no_unindexed_faces(client: Checked, dataset: Dataset) -> None:
    client.create_collection(CollectionId="c")
    response = client.index_faces(
        CollectionId="c", Image={"Bytes": image(dataset, "img/g1.png")}, MaxFaces=1, DetectionAttributes=["ALL"]
    )
    assert response["FaceModelVersion"] == "emulated-1.0"
    assert response["UnindexedFaces"] == []
    assert "ExternalImageId" not in response["FaceRecords"][0]["Face"]  # none given, none echoed
    # Indexing the same image again gives the same face, relabelled.
    again = index(client, dataset, "c", "img/g1.png")["FaceRecords"][0]["Face"]
    assert again["FaceId"] == response["FaceRecords"][0]["Face"]["FaceId"]
    assert again["ExternalImageId"] == "img:g1.png"


def test_unknown_image_and_faceless_line_index_nothing_and_error_line_is_its_error(
    client: Checked, dataset: Dataset
) -> None:
    from PIL import Image

    client.create_collection(CollectionId="c")
    stranger = dataset.root / "stranger.png"
    Image.new("RGB", (8, 8), (1, 2, 3)).save(stranger, format="PNG")
    unknown = client.index_faces(CollectionId="c", Image={"Bytes": stranger.read_bytes()})
    assert (unknown["FaceRecords"], unknown["UnindexedFaces"]) == ([], [])
    assert index(client, dataset, "c", "img/blank.png")["FaceRecords"] == []
    code, _, status = client_error(lambda: index(client, dataset, "c", "img/broken.png"))
    assert (code, status) == ("InvalidImageFormatException", 400)


def test_external_image_id_with_a_slash_is_refused_as_the_real_api_refuses_it(
    client: Checked, dataset: Dataset
) -> None:
    client.create_collection(CollectionId="c")
    code, message, _ = client_error(
        lambda: client.index_faces(
            CollectionId="c", Image={"Bytes": image(dataset, "img/g1.png")}, ExternalImageId="img/g1.png"
        )
    )
    assert code == "ValidationException"
    assert "Value 'img/g1.png' at 'externalImageId'" in message
    assert "regular expression pattern: [a-zA-Z0-9_.\\-:]+" in message


# -- SearchFacesByImage ---------------------------------------------------------------------------


def test_search_returns_the_indexed_face_at_the_predicted_similarity(
    client: Checked, dataset: Dataset, indexed: dict[str, str]
) -> None:
    response = search(client, dataset, "img/p_ann.png")
    # g2 at 75.0 is below the default threshold of 80.
    assert response["FaceMatches"] == [
        {
            "Similarity": 85.3,
            "Face": {
                "FaceId": indexed["img/g1.png"],
                "BoundingBox": {"Width": 0.5, "Height": 0.6, "Left": 0.25, "Top": 0.2},
                "ImageId": image_id(dataset.photo("img/g1.png").digest),
                "ExternalImageId": "img:g1.png",
                "Confidence": 99.9,
            },
        }
    ]
    assert response["SearchedFaceBoundingBox"] == {"Width": 0.5, "Height": 0.6, "Left": 0.25, "Top": 0.2}
    assert response["SearchedFaceConfidence"] == 99.9
    assert response["FaceModelVersion"] == "emulated-1.0"


def test_threshold_keeps_matches_at_or_above_it_best_first(
    client: Checked, dataset: Dataset, indexed: dict[str, str]
) -> None:
    assert search(client, dataset, "img/p_ann.png", FaceMatchThreshold=90)["FaceMatches"] == []
    assert found(search(client, dataset, "img/p_ann.png", FaceMatchThreshold=85.3)) == [("img:g1.png", 85.3)]
    assert found(search(client, dataset, "img/p_ann.png", FaceMatchThreshold=70)) == [
        ("img:g1.png", 85.3),
        ("img:g2.png", 75.0),
    ]


def test_max_faces_keeps_the_most_similar(client: Checked, dataset: Dataset, indexed: dict[str, str]) -> None:
    assert found(search(client, dataset, "img/p_many.png")) == [
        ("img:g1.png", 95.5),
        ("img:g2.png", 92.0),
        ("img:g3.png", 91.25),
    ]
    assert found(search(client, dataset, "img/p_many.png", MaxFaces=2)) == [("img:g1.png", 95.5), ("img:g2.png", 92.0)]
    assert found(search(client, dataset, "img/p_many.png", MaxFaces=1)) == [("img:g1.png", 95.5)]


def test_a_gallery_photo_not_yet_indexed_is_not_returned(
    client: Checked, dataset: Dataset, indexed: dict[str, str]
) -> None:
    # The file says p_many matches "late" at 97.0, but "late" is not in the collection yet.
    assert "img:late.png" not in dict(found(search(client, dataset, "img/p_many.png")))
    index(client, dataset, "gallery", "img/late.png")
    assert found(search(client, dataset, "img/p_many.png", MaxFaces=1)) == [("img:late.png", 97.0)]


def test_matches_come_only_from_the_searched_collection(
    client: Checked, dataset: Dataset, indexed: dict[str, str]
) -> None:
    client.create_collection(CollectionId="other")
    index(client, dataset, "other", "img/g2.png")
    response = search(client, dataset, "img/p_many.png", collection="other")
    assert [(m["Face"]["FaceId"], m["Similarity"]) for m in response["FaceMatches"]] == [
        (face_id("other", dataset.photo("img/g2.png").digest), 92.0)
    ]


def test_empty_matches_and_unknown_images_find_nothing(
    client: Checked, dataset: Dataset, indexed: dict[str, str]
) -> None:
    assert search(client, dataset, "img/p_none.png")["FaceMatches"] == []
    # A gallery photo is no probe: the file gives it no search, so nothing matches.
    assert search(client, dataset, "img/g1.png", FaceMatchThreshold=70)["FaceMatches"] == []


def test_no_face_probe_is_the_real_api_invalid_parameter(
    client: Checked, dataset: Dataset, indexed: dict[str, str]
) -> None:
    code, message, status = client_error(lambda: search(client, dataset, "img/p_noface.png"))
    assert (code, message, status) == (
        "InvalidParameterException",
        "There are no faces in the image. Should be at least 1.",
        400,
    )


def test_error_probe_line_is_its_error(client: Checked, dataset: Dataset, indexed: dict[str, str]) -> None:
    code, _, status = client_error(lambda: search(client, dataset, "img/p_error.png"))
    assert (code, status) == ("ImageTooLargeException", 400)


def test_threshold_below_the_search_floor_is_refused_naming_it(
    client: Checked, dataset: Dataset, indexed: dict[str, str]
) -> None:
    code, message, status = client_error(lambda: search(client, dataset, "img/p_ann.png", FaceMatchThreshold=60))
    assert (code, status) == ("InvalidParameterException", 400)
    assert "results were produced at search threshold 70" in message
    assert "FaceMatchThreshold 60 is below" in message
    # At the floor itself the file says everything there is.
    assert search(client, dataset, "img/p_ann.png", FaceMatchThreshold=FLOOR)["FaceMatches"]


# -- CompareFaces ---------------------------------------------------------------------------------


def compare(client: Checked, dataset: Dataset, source: str, target: str, **kwargs: Any) -> Any:
    return client.compare_faces(
        SourceImage={"Bytes": image(dataset, source)}, TargetImage={"Bytes": image(dataset, target)}, **kwargs
    )


def test_compare_faces_matches_at_or_above_the_threshold(client: Checked, dataset: Dataset) -> None:
    box = {"Width": 0.5, "Height": 0.6, "Left": 0.25, "Top": 0.2}
    above = compare(client, dataset, "img/p_ann.png", "img/g1.png")
    assert above["FaceMatches"] == [{"Similarity": 85.3, "Face": {"BoundingBox": box, "Confidence": 99.9}}]
    assert above["UnmatchedFaces"] == []
    assert above["SourceImageFace"] == {"BoundingBox": box, "Confidence": 99.9}
    below = compare(client, dataset, "img/p_ann.png", "img/g1.png", SimilarityThreshold=90)
    assert below["FaceMatches"] == []
    assert below["UnmatchedFaces"] == [{"BoundingBox": box, "Confidence": 99.9}]
    # 75.0 is below the default 80, above 75.
    assert compare(client, dataset, "img/p_ann.png", "img/g2.png")["FaceMatches"] == []
    assert (
        compare(client, dataset, "img/p_ann.png", "img/g2.png", SimilarityThreshold=75)["FaceMatches"][0]["Similarity"]
        == 75.0
    )


def test_compare_faces_unknown_pairs_are_unmatched_and_probe_lines_still_bind(
    client: Checked, dataset: Dataset
) -> None:
    # No similarity for this pair in the file; a gallery photo as source is no probe.
    for source, target in (("img/p_ann.png", "img/g3.png"), ("img/g1.png", "img/g2.png")):
        response = compare(client, dataset, source, target, SimilarityThreshold=FLOOR)
        assert (len(response["FaceMatches"]), len(response["UnmatchedFaces"])) == (0, 1)
    code, message, _ = client_error(lambda: compare(client, dataset, "img/p_noface.png", "img/g1.png"))
    assert (code, message) == ("InvalidParameterException", "There are no faces in the image. Should be at least 1.")
    code, message, _ = client_error(
        lambda: compare(client, dataset, "img/p_ann.png", "img/g1.png", SimilarityThreshold=50)
    )
    assert code == "InvalidParameterException"
    assert "SimilarityThreshold 50 is below" in message
    assert "search threshold 70" in message


# -- faults, threads, the response check, the command line ----------------------------------------


def test_faults_apply_to_the_matching_operations(start: Callable[..., EmulatorServer]) -> None:
    server = start(Faults(throttle_rate=1.0))
    client = client_for(server.url)
    codes = [client_error(lambda: client.create_collection(CollectionId="c"))[0] for _ in range(2)]
    assert codes == ["ThrottlingException", "ProvisionedThroughputExceededException"]
    assert server.emulator.stats.throttled == 2


def test_concurrent_indexing_into_one_collection_keeps_every_face(dataset: Dataset, predictions: Path) -> None:
    emulator = RekognitionEmulator(dataset, PredictionsAnalyzer(predictions, dataset=dataset))

    def call(operation: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        return emulator.handle(f"RekognitionService.{operation}", json.dumps(body).encode())

    assert call("CreateCollection", {"CollectionId": "c"})[0] == 200
    photos = [p for p in dataset.role("gallery") if p.id not in ("img/broken.png", "img/blank.png")] * 10
    bodies = [{"CollectionId": "c", "Image": {"Bytes": base64.b64encode(p.path.read_bytes()).decode()}} for p in photos]
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(lambda body: call("IndexFaces", body)[0], bodies))
    assert statuses == [200] * len(bodies)
    status, response = call(
        "SearchFacesByImage",
        {"CollectionId": "c", "Image": {"Bytes": base64.b64encode(image(dataset, "img/p_many.png")).decode()}},
    )
    assert status == 200
    assert [m["Similarity"] for m in response["FaceMatches"]] == [97.0, 95.5, 92.0, 91.25]


def test_validate_response_matches_patterns_against_the_whole_value() -> None:
    face = {"FaceId": "0f2b6a34-9c1d-4e5f-8a7b-123456789abc", "ExternalImageId": "img/g1.png"}
    with pytest.raises(ValueError, match=r"ExternalImageId: 'img/g1\.png' does not match the pattern"):
        validate_response("IndexFaces", {"FaceRecords": [{"Face": face}]})
    with pytest.raises(ValueError, match=r"FaceId: 'x0f2b6a34-.*' does not match the pattern"):
        validate_response("IndexFaces", {"FaceRecords": [{"Face": {"FaceId": "x" + face["FaceId"]}}]})


def test_identical_probes_with_different_results_refuse_to_start(make_manifest: MakeManifest, tmp_path: Path) -> None:
    # The same image twice as one person's probes (one image under two subject ids is refused at load).
    manifest = make_manifest([dict(r, subject="ann") if r["photo"] == "img/p_none.png" else r for r in ROWS])
    (manifest.parent / "img/p_none.png").write_bytes((manifest.parent / "img/p_ann.png").read_bytes())
    dataset = load_dataset(manifest)
    path = tmp_path / "p.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in LINES), encoding="utf-8")
    with pytest.raises(PredictionsError, match=r"probes 'img/p_ann\.png' and 'img/p_none\.png' have identical"):
        RekognitionEmulator(dataset, PredictionsAnalyzer(path, dataset=dataset))


def read_line(process: subprocess.Popen[str], timeout: float) -> str:
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


def test_emulate_command_serves_the_shipped_matching_demo() -> None:
    dataset = load_dataset(DEMO / "manifest.csv")
    command = [
        sys.executable,
        "-c",
        "import sys; from conformance.emulators import main; sys.exit(main())",
        "rekognition",
        "--dataset",
        str(DEMO / "manifest.csv"),
        "--predictions",
        str(DEMO / "predictions.jsonl"),
        "--port",
        "0",
        "--min-image-side",
        "0",  # the demo's 8x8 placeholders, recorded so
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = read_line(process, timeout=30)
        assert "EMULATED" in line
        assert f"serving {len(dataset)} photos" in line
        client = Checked(client_for(line.split(" at ", 1)[1].split(";", 1)[0]))
        client.create_collection(CollectionId="demo")
        # The demo's first probe line: images/m001.png matches images/g0437.png at 98.6.
        for photo in ("images/g0437.png", "images/g0001.png"):
            index(client, dataset, "demo", photo)
        response = search(client, dataset, "images/m001.png", collection="demo")
        assert found(response) == [("images:g0437.png", 98.6)]
        assert compare(client, dataset, "images/m001.png", "images/g0437.png")["FaceMatches"][0]["Similarity"] == 98.6
        assert client.delete_collection(CollectionId="demo")["StatusCode"] == 200
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, err
    assert "stopped after 6 calls (6 served, 0 throttled, 0 errored, 0 failed)" in out


# -- the face the service looks at: the largest in the image ---------------------------------------------


@pytest.fixture
def crowded(make_manifest: MakeManifest, tmp_path: Path) -> tuple[Dataset, Path]:
    """A probe beside a bystander whose face is larger, and a probe alone; both match g1 at 90."""
    rows = [
        {"photo": "img/g1.png", "subject": "ann", "role": "gallery"},
        {"photo": "img/p_crowd.png", "subject": "ann", "role": "probe", "box": "0.05,0.1,0.2,0.2"},
        {"photo": "img/p_alone.png", "subject": "ann", "role": "probe"},
    ]
    lines: list[dict[str, Any]] = [
        {"analyzer": "search-test", "version": "1", "search_threshold": FLOOR},
        {
            "photo": "img/p_crowd.png",
            "faces": [
                {"gender": "Female", "box": [0.05, 0.1, 0.2, 0.2]},  # the subject's, 0.04 of the image
                {"gender": "Male", "box": [0.5, 0.1, 0.45, 0.6]},  # the bystander's, 0.27 of it
            ],
        },
        {"probe": "img/p_crowd.png", "matches": [{"gallery": "img/g1.png", "similarity": 90.0}]},
        {"probe": "img/p_alone.png", "matches": [{"gallery": "img/g1.png", "similarity": 90.0}]},
    ]
    path = tmp_path / "crowded.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return load_dataset(make_manifest(rows, columns=["photo", "subject", "role", "box"])), path


def test_search_and_compare_look_at_the_largest_face_as_the_service_does(crowded: tuple[Dataset, Path]) -> None:
    dataset, predictions = crowded
    bystander = {"Width": 0.45, "Height": 0.6, "Left": 0.5, "Top": 0.1}
    with serve(RekognitionEmulator(dataset, PredictionsAnalyzer(predictions, dataset=dataset))) as server:
        client = Checked(client_for(server.url))
        client.create_collection(CollectionId="gallery")
        index(client, dataset, "gallery", "img/g1.png")
        crowd = search(client, dataset, "img/p_crowd.png")
        alone = search(client, dataset, "img/p_alone.png")
        compared = compare(client, dataset, "img/p_crowd.png", "img/g1.png")
    # The largest face was searched, and the file says nothing of what the bystander matches: no matches.
    assert crowd["SearchedFaceBoundingBox"] == bystander
    assert crowd["FaceMatches"] == []
    assert compared["SourceImageFace"]["BoundingBox"] == bystander
    assert compared["FaceMatches"] == []
    # A photo with its subject alone is searched as before.
    assert found(alone) == [("img:g1.png", 90.0)]


# -- images the service refuses -------------------------------------------------------------------------


def test_bytes_that_are_no_png_or_jpeg_are_an_invalid_image_format(client: Checked, dataset: Dataset) -> None:
    client.create_collection(CollectionId="gallery")
    for data in (b"not an image at all", b"GIF89a" + b"\x00" * 40, b"\x89PNG\r\n\x1a\n" + b"garbage"):
        code, message, status = client_error(
            lambda data=data: client.search_faces_by_image(CollectionId="gallery", Image={"Bytes": data})
        )
        assert (code, message, status) == ("InvalidImageFormatException", "Request has invalid image format", 400)
