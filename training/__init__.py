"""The pipeline: one module per DVC stage plus one module per demo. TensorFlow lives here only."""
