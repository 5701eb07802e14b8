"""Launch the zhibu-qa web app with settings from zhibu_qa.toml / ZHIBU_* (same as `zhibu-qa serve`)."""
import sys

from zhibu_qa.cli import main

sys.exit(main(["serve"]))
