"""Every registered stream: one interface, gradients everywhere; weights from a file or the hub cache."""

from __future__ import annotations

import pytest
import torch

from twostream.errors import WeightsError
from twostream.streams import weights as W
from twostream.streams.base import InputSpec, Stream
from twostream.streams.registry import available, build, register

RGB = ["fc", "cnn_lstm", "resnet50_lstm", "r3d_18", "r2plus1d_18", "mc3_18"]


def _tiny_input(model: Stream, batch: int = 2) -> torch.Tensor:
    spec = model.input_spec
    if spec.key == "video":
        return torch.randn(batch, spec.clip_len, 3, spec.size, spec.size)  # (B, T, C, H, W)
    from twostream.pose.skeleton import get_layout

    joints = get_layout(spec.layout).num_joints
    return torch.rand(batch, spec.clip_len, joints, 4)  # (B, T, V, 4)


def test_rgb_models_are_registered():
    assert set(RGB) <= set(available())


@pytest.mark.parametrize("name", available())
def test_forward_shapes_finite_and_every_parameter_learns(name):
    torch.manual_seed(0)
    kwargs = {"num_classes": 5, "clip_len": 4}
    if name in RGB:
        kwargs["size"] = 32
    model = build(name, **kwargs)
    x = _tiny_input(model)
    assert model.input_keys == (model.input_spec.key,)
    features = model.forward_features(x)
    assert features.shape == (2, model.num_features)
    logits = model(x)
    assert logits.shape == (2, 5) and model.num_classes == 5
    assert torch.isfinite(logits).all()
    logits.logsumexp(1).sum().backward()
    no_grad = [n for n, p in model.named_parameters() if p.requires_grad and (p.grad is None or not p.grad.any())]
    assert not no_grad, f"parameters without gradient: {no_grad[:5]}"


def test_video_specs_carry_their_size_and_normalisation():
    r3d = build("r3d_18", num_classes=3)
    resnet = build("resnet50_lstm", num_classes=3, clip_len=2)
    assert (r3d.input_spec.size, r3d.input_spec.clip_len) == (112, 16)
    assert r3d.input_spec.mean == pytest.approx((0.43216, 0.394666, 0.37645))
    assert resnet.input_spec.size == 224 and resnet.input_spec.mean == pytest.approx((0.485, 0.456, 0.406))


@pytest.mark.parametrize("freeze,trainable", [("backbone", {"head"}), ("last_block", {"head", "backbone"})])
def test_freeze_leaves_only_the_top_trainable(freeze, trainable):
    model = build("r3d_18", num_classes=3, clip_len=2, size=32, freeze=freeze)
    names = {n.split(".")[0] for n, p in model.named_parameters() if p.requires_grad}
    assert names == trainable
    if freeze == "last_block":
        assert all(n.startswith("backbone.layer4") for n, p in model.named_parameters()
                   if p.requires_grad and n.startswith("backbone"))


def test_bad_freeze_and_unknown_model_name_the_choices():
    with pytest.raises(ValueError, match="none, backbone, last_block"):
        build("cnn_lstm", num_classes=2, freeze="all")
    with pytest.raises(ValueError, match="available: .*r3d_18"):
        build("r3d_19", num_classes=2)


def test_registering_a_name_twice_is_refused():
    def fc(**kwargs):  # same name as the built-in
        raise AssertionError

    available()
    with pytest.raises(ValueError, match="already registered"):
        register(fc)


def test_offline_pretrained_request_raises_weights_error(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("TWOSTREAM_OFFLINE", "1")
    with pytest.raises(WeightsError) as err:
        build("r3d_18", num_classes=3, clip_len=2, size=32, pretrained=True)
    message = str(err.value)
    assert "r3d_18-b3b3357e.pth" in message and str(tmp_path / "torch") in message
    assert "--no-pretrained" in message and "--weights FILE" in message


def test_failed_download_raises_weights_error(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.delenv("TWOSTREAM_OFFLINE", raising=False)

    def offline(*args, **kwargs):
        raise OSError("Temporary failure in name resolution")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", offline)
    with pytest.raises(WeightsError, match="cannot download .*--no-pretrained"):
        build("mc3_18", num_classes=3, clip_len=2, size=32, pretrained=True)


def test_cached_hub_file_is_loaded_into_the_backbone(tmp_path, monkeypatch):
    import torchvision

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    donor = torchvision.models.video.r3d_18()
    torch.nn.init.constant_(donor.layer1[0].conv1[0].weight, 0.25)
    path = W.expected_file(torchvision.models.video.R3D_18_Weights.KINETICS400_V1)
    path.parent.mkdir(parents=True)
    torch.save(donor.state_dict(), path)
    model = build("r3d_18", num_classes=3, clip_len=2, size=32, pretrained=True)
    assert torch.equal(model.backbone.layer1[0].conv1[0].weight, donor.layer1[0].conv1[0].weight)


def test_weights_file_with_a_torchvision_backbone_state_dict(tmp_path):
    import torchvision

    donor = torchvision.models.video.r2plus1d_18()
    with torch.no_grad():
        for i, p in enumerate(donor.parameters()):
            p.fill_(i * 0.001)
    path = tmp_path / "backbone.pth"
    torch.save(donor.state_dict(), path)
    model = build("r2plus1d_18", num_classes=4, clip_len=2, size=32, weights_file=str(path))
    for name, value in donor.state_dict().items():
        if not name.startswith("fc."):
            assert torch.equal(model.backbone.state_dict()[name], value), name


def test_weights_file_from_a_checkpoint_of_the_same_arch_other_classes(tmp_path):
    from twostream.streams.checkpoint import save_checkpoint

    trained = build("cnn_lstm", num_classes=7, clip_len=2, size=32)
    with torch.no_grad():
        trained.lstm.weight_hh_l0.fill_(0.5)
    path = tmp_path / "run.pt"
    save_checkpoint(path, {"model": trained.state_dict(), "arch": "cnn_lstm", "arch_kwargs": {}, "classes": []})
    model = build("cnn_lstm", num_classes=3, clip_len=2, size=32, weights_file=str(path))
    assert torch.equal(model.lstm.weight_hh_l0, trained.lstm.weight_hh_l0)
    assert model.head.weight.shape == (3, 128)  # the other class count's head is skipped, not loaded


def test_weights_file_of_nothing_matching_is_refused(tmp_path):
    path = tmp_path / "other.pth"
    torch.save({"something.weight": torch.zeros(2, 2)}, path)
    with pytest.raises(WeightsError, match="no tensor"):
        build("mc3_18", num_classes=3, clip_len=2, size=32, weights_file=str(path))
    with pytest.raises(WeightsError, match="does not exist"):
        build("mc3_18", num_classes=3, clip_len=2, size=32, weights_file=str(tmp_path / "missing.pth"))


def test_input_spec_validates():
    with pytest.raises(ValueError, match="'video' or 'keypoints'"):
        InputSpec("audio", 4)
    with pytest.raises(ValueError, match="positive size"):
        InputSpec("video", 4)
