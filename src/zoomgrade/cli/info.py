"""zoomgrade info (placeholder until the slide layer lands)."""
import typer


def info(slides: list[str] = typer.Argument(..., help="Slide files.")) -> None:
    """Show slide metadata."""
    raise typer.Exit(1)
