import pytest
import torch

from trainer.augment import LIGHT, THESIS_CONTRASTIVE, AugmentConfig, Augmenter


@pytest.mark.parametrize(
    "cfg", [LIGHT, THESIS_CONTRASTIVE, AugmentConfig(pitch_shift_bins=3, time_stretch=0.2)]
)
def test_augmentations_keep_shape_and_change_the_input(cfg):
    torch.manual_seed(0)
    x = torch.randn(4, 1, 96, 130)
    y = Augmenter(cfg)(x)
    assert y.shape == x.shape and torch.isfinite(y).all()
    assert not torch.allclose(x, y)


def test_thesis_masking_drops_about_a_fifth_of_the_cells():
    torch.manual_seed(0)
    cfg = AugmentConfig(noise_strength=0.0, mask_probability=0.2, time_masks=0, freq_masks=0, gain_db=0.0)
    y = Augmenter(cfg)(torch.ones(8, 1, 96, 130))
    assert (y == 0).float().mean().item() == pytest.approx(0.2, abs=0.01)


def test_noise_strength_scales_with_the_signal():
    torch.manual_seed(0)
    cfg = AugmentConfig(noise_strength=0.5, mask_probability=0.0, time_masks=0, freq_masks=0, gain_db=0.0)
    x = torch.randn(16, 1, 96, 130) * 2.0
    added = Augmenter(cfg)(x) - x
    assert added.std().item() == pytest.approx(0.5 * 2.0, rel=0.05)
