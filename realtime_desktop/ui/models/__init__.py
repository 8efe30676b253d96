"""Qt item models: thin adapters over core state with narrow change notifications."""
