"""LeRobot datasets (format v3.0, and v2.1 for reading): import into an episode file, export one."""

from jepaworld.data.lerobot.exporter import ExportResult, export_lerobot
from jepaworld.data.lerobot.importer import ENV_PREFIX, ImportResult, import_lerobot

__all__ = ["ENV_PREFIX", "ExportResult", "ImportResult", "export_lerobot", "import_lerobot"]
