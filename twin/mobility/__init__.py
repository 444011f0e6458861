"""Mobility and safety: micromobility, street lighting, cameras, police posts, early warning."""
