"""The version of keras-denoise."""

__version__ = "0.1.0"
