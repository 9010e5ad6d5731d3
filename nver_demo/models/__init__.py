"""Neural network modules we implement ourselves (ports of models with no usable release)."""

from .audio_mamba import CONFIGS, AudioMambaConfig, AudioMambaEncoder, config_for
from .audio_mamba_clip import AudioMamba, WindowPlan, quirk_rows, window_plan
from .audio_mamba_weights import load_safetensors, save_safetensors, weights_filename
from .log_mel import LogMel, mel_filterbank

__all__ = [
    "CONFIGS",
    "AudioMamba",
    "AudioMambaConfig",
    "AudioMambaEncoder",
    "LogMel",
    "WindowPlan",
    "config_for",
    "load_safetensors",
    "mel_filterbank",
    "quirk_rows",
    "save_safetensors",
    "weights_filename",
    "window_plan",
]
