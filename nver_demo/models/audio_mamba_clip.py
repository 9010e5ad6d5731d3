"""Clip embedding exactly as the official Audio-MAMBA extraction computes it.

Per clip: standardised log-mel (T, 80) -> zero-pad to a multiple of 200 frames (at least one
frame, so a full extra window when T is already a multiple) -> 200-frame windows encoded
independently -> per window ``'b (f t) d -> b t (f d)'`` with f = 5 -> concatenate the windows'
rows -> drop the last ``int(50 * pad / 200)`` rows -> mean. The rearrange reads the time-major
tokens as if they were frequency-major; that quirk is what produced the published features, so
it is kept (see ../shared/docs/audio-mamba.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from .audio_mamba import AudioMambaConfig, AudioMambaEncoder
from .log_mel import LogMel

#: Windows encoded per forward pass; bounds memory for long clips or big batches.
MAX_WINDOWS_PER_FORWARD = 16


@dataclass(frozen=True)
class WindowPlan:
    """How a clip of ``n_frames`` log-mel frames is cut into windows and which rows are kept."""

    n_frames: int
    pad: int  # zero frames appended: 1..window
    n_windows: int
    n_rows: int  # rows after the rearrange, all windows
    n_dropped: int  # trailing rows dropped before the mean

    @property
    def n_kept(self) -> int:
        return self.n_rows - self.n_dropped


def window_plan(n_frames: int, window: int = 200, rows_per_window: int = 50) -> WindowPlan:
    """Official padding / windowing / tail-drop arithmetic for one clip.

    >>> window_plan(201)  # a 2 s clip
    WindowPlan(n_frames=201, pad=199, n_windows=2, n_rows=100, n_dropped=49)
    """
    if n_frames < 1:
        raise ValueError(f"A clip has at least one frame, got {n_frames}")
    pad = window - n_frames % window
    n_windows = (n_frames + pad) // window
    n_dropped = int(rows_per_window * pad / window)
    return WindowPlan(n_frames, pad, n_windows, n_windows * rows_per_window, n_dropped)


def quirk_rows(tokens: torch.Tensor, n_freq: int) -> torch.Tensor:
    """``einops.rearrange(tokens, 'b (f t) d -> b t (f d)', f=n_freq)`` without einops.

    Parameters
    ----------
    tokens : Tensor, (batch, n_freq * n_time, D), time-major tokens
    n_freq : int

    Returns
    -------
    Tensor, (batch, n_time, n_freq * D); row ``t`` slot ``f`` holds token ``f * n_time + t``.
    """
    batch, n_tokens, dim = tokens.shape
    n_time = n_tokens // n_freq
    return tokens.reshape(batch, n_freq, n_time, dim).transpose(1, 2).reshape(batch, n_time, n_freq * dim)


class AudioMamba(nn.Module):
    """Front-end + encoder: 16 kHz clips -> official Audio-MAMBA clip embeddings (5 x D)."""

    def __init__(self, cfg: AudioMambaConfig, encoder: AudioMambaEncoder | None = None) -> None:
        super().__init__()
        self.cfg = cfg
        self.frontend = LogMel()
        self.encoder = encoder if encoder is not None else AudioMambaEncoder(cfg)

    def windows(self, wave: torch.Tensor) -> tuple[torch.Tensor, WindowPlan]:
        """One clip (n_samples,) -> padded windows (n_windows, 1, 200, 80) and its plan."""
        mel = self.frontend(wave)  # (T, 80)
        plan = window_plan(mel.shape[0], self.cfg.window_frames, self.cfg.grid[0])
        mel = nn.functional.pad(mel, (0, 0, 0, plan.pad))  # zeros after normalisation
        return mel.view(plan.n_windows, 1, self.cfg.window_frames, self.cfg.n_mels), plan

    def forward(
        self, waves: Sequence[torch.Tensor], max_windows: int = MAX_WINDOWS_PER_FORWARD
    ) -> torch.Tensor:
        """Embed clips; all windows of all clips are encoded together, ``max_windows`` at a time.

        Parameters
        ----------
        waves : sequence of Tensor, each (n_samples,)
            Mono float waveforms at 16 kHz, any length (even shorter than one frame).
        max_windows : int
            Windows per encoder forward pass.

        Returns
        -------
        Tensor, (len(waves), 5 * D), float32
        """
        device = self.encoder.pos_embed.device
        if not waves:
            return torch.zeros(0, self.cfg.embed_dim, device=device)
        per_clip = [self.windows(w) for w in waves]
        n_rows = self.cfg.grid[0]  # rows per window after the rearrange (50)
        # The tail drop (<= 50 rows) only ever cuts into a clip's last window, so each window
        # contributes the sum of its first `keep` rows; a window keeping none (T a multiple of
        # 200) is not encoded. Only (windows, 5 * D) sums are kept, not every row.
        keep = []
        for _, plan in per_clip:
            keep += [n_rows] * (plan.n_windows - 1) + [n_rows - plan.n_dropped]
        keep_t = torch.tensor(keep, device=device)
        windows = torch.cat([w for w, _ in per_clip])[keep_t > 0]
        sums = windows.new_zeros(len(keep), self.cfg.embed_dim)
        encoded = torch.nonzero(keep_t > 0).squeeze(1)
        for part, idx in zip(windows.split(max_windows), encoded.split(max_windows)):
            rows = quirk_rows(self.encoder(part), self.cfg.grid[1]).float()  # (w, 50, 5D)
            mask = torch.arange(n_rows, device=device) < keep_t[idx, None]  # (w, 50)
            sums[idx] = (rows * mask[..., None]).sum(dim=1)
        out, start = [], 0
        for _, plan in per_clip:
            out.append(sums[start : start + plan.n_windows].sum(dim=0) / plan.n_kept)
            start += plan.n_windows
        return torch.stack(out)
