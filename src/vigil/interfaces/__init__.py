"""How people and systems use Vigil: REST API, CLI (and later dashboard, chat, notifiers)."""

__all__: list[str] = []
