from __future__ import annotations

from fastapi.testclient import TestClient

from ssl_engine.methods.registry import METHODS


def test_every_registered_method_is_listed_with_its_schema(client: TestClient) -> None:
    methods = {m["name"]: m for m in client.get("/v1/methods").json()}
    assert set(methods) == set(METHODS)
    simclr = methods["simclr"]
    assert simclr["family"] == "joint_embedding"
    assert simclr["collapse_prevention"] == "contrastive"
    assert "Chen" in simclr["paper"]
    temperature = simclr["hyperparameters_schema"]["properties"]["temperature"]
    assert "default" in temperature
    assert simclr["default_backbone"] in simclr["allowed_backbones"]


def test_one_method_by_name_and_unknown_is_404(client: TestClient) -> None:
    assert client.get("/v1/methods/simclr").json()["name"] == "simclr"
    response = client.get("/v1/methods/nope")
    assert response.status_code == 404
    assert response.json()["code"] == "method_not_found"


def test_each_method_shows_its_whole_training_recipe_with_its_source(client: TestClient) -> None:
    vicreg = client.get("/v1/methods/vicreg").json()["optimizer_defaults"]
    assert vicreg == {
        "name": "lars",
        "lr": 0.3,
        "weight_decay": 1e-4,
        "momentum": 0.9,
        "trust_coefficient": 0.001,
        "clip_lr": False,
        "betas": [0.9, 0.999],
        "warmup_fraction": 0.1,
        "source": METHODS["vicreg"].optimizer_defaults.source,
    }
    assert "imagenette_benchmark.py" in vicreg["source"]
    assert client.get("/v1/methods/mae").json()["optimizer_defaults"]["betas"] == [0.9, 0.95]


def test_what_a_method_does_with_a_parent_and_whether_it_makes_pictures(
    client: TestClient,
) -> None:
    methods = {m["name"]: m for m in client.get("/v1/methods").json()}
    assert methods["clusterfit"]["parent_role"] == "teacher"
    assert methods["simclr"]["parent_role"] == "warm_start"
    assert (methods["vae"]["generates"], methods["vae"]["reconstructs"]) == (True, True)
    assert (methods["mae"]["generates"], methods["mae"]["reconstructs"]) == (False, True)
    assert not methods["simclr"]["generates"] and not methods["simclr"]["reconstructs"]
