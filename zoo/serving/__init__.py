"""Serving exported models: the export layout (`zoo.serving.layout`), read without
TensorFlow."""
