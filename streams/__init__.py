"""Stream models (RGB and keypoint) built by name, the one training loop, evaluation."""
