"""Charts of indicators (trajectories, comparisons), rendered as SVG on the server."""

from core.api import PluginInfo, __version__

PLUGIN = PluginInfo(
    name="visualisation",
    label="Visualisation",
    version=__version__,
    description="Graphiques des indicateurs, rendus en SVG côté serveur.",
    requires_core=">=0.1,<0.2",
)
