"""Launch the zhibu-qa web app with settings from zhibu_qa.toml / ZHIBU_* (same as `zhibu-qa serve`)."""
from zhibu_qa.config import load_settings
from zhibu_qa.ui import serve

serve(load_settings())
