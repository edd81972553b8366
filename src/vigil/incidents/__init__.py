"""The incidents layer of Vigil (see DESIGN.md); filled in by later issues."""

__all__: list[str] = []
