"""smlmLP: point-spread functions measured from raw blinking SMLM movies."""

from importlib.metadata import PackageNotFoundError, version

from .blink_spatial_psf import blink_spatial_psf
from .blink_temporal_on import blink_temporal_on
from .block import block
from .config import Config

try:
    __version__ = version("smlmlp")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"

__all__ = ["Config", "__version__", "blink_spatial_psf", "blink_temporal_on", "block"]
