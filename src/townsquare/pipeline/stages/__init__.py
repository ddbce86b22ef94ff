"""The pipeline's stages, in the order the default pipeline runs them."""
