"""Images in: the built-in shapes, torchvision's sets, a user's folder or zip, and the one safe image loader."""
