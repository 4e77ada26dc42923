"""Analysis: drift against the baseline, alarm defaults and windows, live quality, artifact
integrity. It computes and stores; the loops that act on it are in ``conveyor.pipeline``."""
