"""Every registered stream: one interface, gradients everywhere; weights from a file or the hub cache."""

from __future__ import annotations

import pytest
import torch

from twostream.errors import WeightsError
from twostream.streams import weights as W
from twostream.streams.base import InputSpec, Stream
from twostream.streams.registry import available, build, register

RGB = ["fc", "cnn_lstm", "resnet50_lstm", "r3d_18", "r2plus1d_18", "mc3_18", "mvit_v1_b", "mvit_v2_s", "swin3d_t",
       "swin3d_s", "swin3d_b", "s3d"]
FIXED_SIZE = {"mvit_v1_b", "mvit_v2_s"}  # exactly 16×224²: one test of their own, below
LARGER = {"swin3d_s", "swin3d_b"}  # swin3d_t's code with more blocks and channels: a forward each, no backward
TINY = {"s3d": {"clip_len": 7, "size": 24}}  # the smallest clip S3D accepts


def _tiny_input(model: Stream, batch: int = 2) -> torch.Tensor:
    spec = model.input_spec
    if spec.key == "video":
        return torch.randn(batch, spec.clip_len, 3, spec.size, spec.size)  # (B, T, C, H, W)
    from twostream.pose.skeleton import get_layout

    joints = get_layout(spec.layout).num_joints
    return torch.rand(batch, spec.clip_len, joints, 4)  # (B, T, V, 4)


def _assert_every_parameter_learns(model: Stream, x: torch.Tensor, *, unused: frozenset[str] = frozenset()) -> None:
    features = model.forward_features(x)
    assert features.shape == (len(x), model.num_features)
    logits = model(x)
    assert logits.shape == (len(x), model.num_classes)
    assert torch.isfinite(logits).all()
    logits.logsumexp(1).sum().backward()
    no_grad = {n for n, p in model.named_parameters() if p.requires_grad and (p.grad is None or not p.grad.any())}
    assert no_grad == unused, f"parameters without gradient: {sorted(no_grad - unused)[:5]}"


def test_rgb_models_are_registered():
    assert set(RGB) <= set(available())


@pytest.mark.parametrize("name", sorted(set(available()) - FIXED_SIZE - LARGER))
def test_forward_shapes_finite_and_every_parameter_learns(name):
    torch.manual_seed(0)
    kwargs = {"num_classes": 5, "clip_len": 4, **({"size": 32} if name in RGB else {}), **TINY.get(name, {})}
    model = build(name, **kwargs)
    assert model.input_keys == (model.input_spec.key,) and model.num_classes == 5
    model.eval()  # stochastic depth (Swin3D) may drop a whole block for a batch of 2; that block gets no gradient
    _assert_every_parameter_learns(model, _tiny_input(model))


@torch.inference_mode()
def test_mvit_takes_exactly_16_frames_of_224_and_the_larger_swins_run():
    """The costly forwards, once each without a backward (MViT's 16×224² alone takes seconds on a CPU)."""
    for name in sorted(FIXED_SIZE):
        with pytest.raises(ValueError, match=f"{name} takes exactly 16 frames of 224×224.*clip_len=8"):
            build(name, num_classes=3, clip_len=8)
    for name, kwargs in [("mvit_v2_s", {}), *((n, {"clip_len": 2, "size": 32}) for n in sorted(LARGER))]:
        model = build(name, num_classes=3, **kwargs).eval()
        x = _tiny_input(model, batch=1)
        assert model.forward_features(x).shape == (1, model.num_features)
        logits = model(x)
        assert logits.shape == (1, 3) and torch.isfinite(logits).all(), name


def test_video_specs_carry_their_size_and_normalisation():
    r3d = build("r3d_18", num_classes=3)
    resnet = build("resnet50_lstm", num_classes=3, clip_len=2)
    assert (r3d.input_spec.size, r3d.input_spec.clip_len) == (112, 16)
    assert r3d.input_spec.mean == pytest.approx((0.43216, 0.394666, 0.37645))
    assert resnet.input_spec.size == 224 and resnet.input_spec.mean == pytest.approx((0.485, 0.456, 0.406))


def test_s3d_refuses_a_clip_shorter_than_its_first_temporal_kernel():
    with pytest.raises(ValueError, match="s3d needs at least 7 frames.*clip_len=5"):
        build("s3d", num_classes=3, clip_len=5, size=32)


@pytest.mark.parametrize("freeze,trainable", [("backbone", {"head"}), ("last_block", {"head", "backbone"})])
def test_freeze_leaves_only_the_top_trainable(freeze, trainable):
    model = build("r3d_18", num_classes=3, clip_len=2, size=32, freeze=freeze)
    names = {n.split(".")[0] for n, p in model.named_parameters() if p.requires_grad}
    assert names == trainable
    if freeze == "last_block":
        assert all(n.startswith("backbone.layer4") for n, p in model.named_parameters()
                   if p.requires_grad and n.startswith("backbone"))


@pytest.mark.parametrize("name,last_block,mean", [
    ("swin3d_t", "backbone.features.6.", (0.485, 0.456, 0.406)),  # the last of 4 stages (3 patch mergings between)
    ("s3d", "backbone.features.15.", (0.43216, 0.394666, 0.37645)),  # the last inception block
    ("mvit_v1_b", "backbone.blocks.15.", (0.45, 0.45, 0.45)),
])
def test_kinetics_video_models_take_their_weights_preset_and_freeze_to_the_last_block(name, last_block, mean):
    model = build(name, num_classes=3, freeze="last_block")
    spec = model.input_spec
    assert (spec.clip_len, spec.size) == (16, 224) and spec.mean == pytest.approx(mean)
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert {"head.weight", "head.bias"} < trainable
    assert all(n.startswith(("head.", last_block)) for n in trainable), sorted(trainable)[:5]
    assert any(n.startswith(last_block) for n in trainable)


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


@pytest.mark.parametrize("name,file", [("r3d_18", "r3d_18-b3b3357e.pth"), ("mvit_v2_s", "mvit_v2_s-ae3be167.pth"),
                                       ("s3d", "s3d-d76dad2f.pth")])
def test_offline_pretrained_request_raises_weights_error(tmp_path, monkeypatch, name, file):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("TWOSTREAM_OFFLINE", "1")
    kwargs = {} if name == "mvit_v2_s" else {"clip_len": 7, "size": 32}
    with pytest.raises(WeightsError) as err:
        build(name, num_classes=3, pretrained=True, **kwargs)
    message = str(err.value)
    assert "\n" not in message and file in message and str(tmp_path / "torch") in message
    assert "--no-pretrained" in message and "--weights FILE" in message


def test_failed_download_raises_weights_error(tmp_path, monkeypatch, capfd):
    import sys

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.delenv("TWOSTREAM_OFFLINE", raising=False)

    def offline(url, *args, **kwargs):
        sys.stdout.write(f'Downloading: "{url}"\n')  # as torch hub does before trying
        raise OSError("Temporary failure in name resolution")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", offline)
    with pytest.raises(WeightsError, match="cannot download .*--no-pretrained"):
        build("mc3_18", num_classes=3, clip_len=2, size=32, pretrained=True)
    assert "Downloading" not in capfd.readouterr().out  # the error is the one line the user sees


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
