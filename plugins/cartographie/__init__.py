"""Maps of territories (choropleths of values, progress, weather, completeness)."""

from core.api import PluginInfo, __version__

PLUGIN = PluginInfo(
    name="cartographie",
    label="Cartographie",
    version=__version__,
    description="Cartes des territoires : référentiel géographique et choroplèthes.",
    requires_core=">=0.1,<0.2",
)
