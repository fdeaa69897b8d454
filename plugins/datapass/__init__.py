"""Access requests and grants through DataPass (the State's habilitation service)."""

from core.api import PluginInfo, __version__

PLUGIN = PluginInfo(
    name="datapass",
    label="DataPass",
    version=__version__,
    description="Demandes d'habilitation et droits d'accès via DataPass.",
    requires_core=">=0.1,<0.2",
)
