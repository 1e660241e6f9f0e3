"""Late fusion of stream scores, the live two-buffer engine and model export."""
