// Tests of the privacy audit (placeholder).
