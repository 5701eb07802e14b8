"""zhibu-qa: grounded question answering over the party-building magazine 天津支部生活."""

__version__ = "0.1.0"
