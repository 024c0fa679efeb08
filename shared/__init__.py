"""Runtime package every Space imports. Never imports TensorFlow."""
