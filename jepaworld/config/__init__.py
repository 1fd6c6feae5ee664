from jepaworld.config.checks import validate
from jepaworld.config.io import (
    ConfigError,
    atomic_write_text,
    from_dict,
    json_text,
    load_config,
    parse_overrides,
    read_preset,
    save_config,
    strict_json,
    to_dict,
    update,
    write_json,
)
from jepaworld.config.schema import Config, DataConfig, EvalConfig, ModelConfig, PlanConfig, TrainConfig

__all__ = [
    "Config",
    "ConfigError",
    "DataConfig",
    "EvalConfig",
    "ModelConfig",
    "PlanConfig",
    "TrainConfig",
    "atomic_write_text",
    "from_dict",
    "json_text",
    "load_config",
    "parse_overrides",
    "read_preset",
    "save_config",
    "strict_json",
    "to_dict",
    "update",
    "write_json",
    "validate",
]
