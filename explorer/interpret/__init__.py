"""Looking inside a network: model cards, probes, gradients, Grad-CAM and the other methods, trust checks."""
