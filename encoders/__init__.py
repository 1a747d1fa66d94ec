"""driftrec.encoders."""
