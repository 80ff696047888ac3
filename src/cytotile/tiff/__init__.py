"""The serving pyramid: its layout, a writer and a byte-range reader."""
