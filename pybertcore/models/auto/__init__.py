from pybertcore.models.auto.auto_factory import AutoConfig, AutoModel

__all__ = ["AutoConfig", "AutoModel"]
