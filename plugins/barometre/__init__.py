"""The public barometer: what referents publish, shown to citizens without login."""

from core.api import PluginInfo, __version__

PLUGIN = PluginInfo(
    name="barometre",
    label="Baromètre",
    version=__version__,
    description="Baromètre public des résultats publiés, sans connexion.",
    requires_core=">=0.1,<0.2",
)
