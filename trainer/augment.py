"""Augmentations on log-mel batches ``(B, 1, n_mels, frames)``, run on the training device.

The thesis's SimCLR views use additive noise (strength 0.5) and random masking (p = 0.2); we add
SpecAugment-style time/frequency masks (torchaudio) and a gain change, and offer pitch shift
(a shift along the mel axis) and time stretch (resampling the frame axis) as options.  Working on
the spectrogram keeps augmentation cheap enough to do per batch on a laptop CPU.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
import torchaudio


@dataclass(frozen=True)
class AugmentConfig:
    noise_strength: float = 0.5  # thesis: additive noise, std = strength * per-sample std
    mask_probability: float = 0.2  # thesis: random masking, each time-frequency cell dropped with p
    time_masks: int = 2
    time_mask_frames: int = 20
    freq_masks: int = 2
    freq_mask_bins: int = 12
    gain_db: float = 6.0  # uniform in [-gain_db, +gain_db]
    pitch_shift_bins: int = 0  # 0 = off; otherwise shift along the mel axis by up to this many bins
    time_stretch: float = 0.0  # 0 = off; otherwise stretch by a factor in [1 - x, 1 + x]

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


class Augmenter(torch.nn.Module):
    def __init__(self, cfg: AugmentConfig, norm_scale_db: float = 30.0) -> None:
        super().__init__()
        self.cfg = cfg
        self.norm_scale_db = norm_scale_db
        self.time_mask = torchaudio.transforms.TimeMasking(cfg.time_mask_frames, iid_masks=True)
        self.freq_mask = torchaudio.transforms.FrequencyMasking(cfg.freq_mask_bins, iid_masks=True)

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        cfg = self.cfg
        b = x.shape[0]
        dev = x.device
        if cfg.gain_db > 0:
            gain = (torch.rand(b, 1, 1, 1, generator=generator, device=dev) * 2 - 1) * cfg.gain_db
            x = x + gain / self.norm_scale_db
        if cfg.pitch_shift_bins > 0:
            shift = int(
                torch.randint(
                    -cfg.pitch_shift_bins, cfg.pitch_shift_bins + 1, (1,), generator=generator
                ).item()
            )
            if shift:
                x = torch.roll(x, shifts=shift, dims=2)
                if shift > 0:
                    x[:, :, :shift] = x.amin()
                else:
                    x[:, :, shift:] = x.amin()
        if cfg.time_stretch > 0:
            rate = 1.0 + (float(torch.rand(1, generator=generator)) * 2 - 1) * cfg.time_stretch
            frames = x.shape[-1]
            stretched = F.interpolate(
                x, size=(x.shape[2], max(2, int(frames * rate))), mode="bilinear", align_corners=False
            )
            x = (
                stretched[..., :frames]
                if stretched.shape[-1] >= frames
                else F.pad(stretched, (0, frames - stretched.shape[-1], 0, 0), mode="replicate")
            )
        if cfg.noise_strength > 0:
            std = x.flatten(1).std(dim=1).view(b, 1, 1, 1)
            x = x + cfg.noise_strength * std * torch.randn(x.shape, generator=generator, device=dev)
        if cfg.mask_probability > 0:
            keep = torch.rand(x.shape, generator=generator, device=dev) >= cfg.mask_probability
            x = x * keep
        for _ in range(cfg.time_masks):
            x = self.time_mask(x)
        for _ in range(cfg.freq_masks):
            x = self.freq_mask(x)
        return x


#: Light augmentation for triplet training: masks and gain, no heavy noise.
LIGHT = AugmentConfig(noise_strength=0.0, mask_probability=0.0, time_masks=1, freq_masks=1, gain_db=6.0)
#: The thesis's SimCLR views plus SpecAugment.
THESIS_CONTRASTIVE = AugmentConfig()
