"""smlmLP: point-spread functions measured from raw blinking SMLM movies."""
